//! Compute, after SK's `ComputeStep` (Process.IntegrationTests.Resources): for a number, emit its square
//! (`SquareResult`) and its cube (`CubicResult`); a negative number fails, so that a map item can fail.

use serde::{Deserialize, Serialize};
use weft_step_sdk::{Context, Error, step};

#[derive(Default, Serialize, Deserialize)]
pub struct Compute;

#[step]
impl Compute {
    #[kernel_function]
    fn compute(ctx: &Context, value: i64) -> Result<i64, Error> {
        let (square, cube) = powers(value)?;
        ctx.emit("SquareResult", &square)?;
        ctx.emit("CubicResult", &cube)?;
        Ok(square)
    }

    /// The same, with both events public (what a process run as a sub-process or by a map gives out).
    #[kernel_function]
    fn compute_public(ctx: &Context, value: i64) -> Result<i64, Error> {
        let (square, cube) = powers(value)?;
        ctx.emit_public("SquareResult", &square)?;
        ctx.emit_public("CubicResult", &cube)?;
        Ok(square)
    }
}

fn powers(value: i64) -> Result<(i64, i64), Error> {
    if value < 0 {
        return Err(Error::new(format!("{value} is negative")));
    }
    let square = value.checked_mul(value).ok_or_else(|| Error::new("the square overflows"))?;
    let cube = square.checked_mul(value).ok_or_else(|| Error::new("the cube overflows"))?;
    Ok((square, cube))
}
