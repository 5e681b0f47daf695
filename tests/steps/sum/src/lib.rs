//! Sum, after SK's `UnionStep` (Process.IntegrationTests.Resources): adds up the arrays a map step sends
//! it, squares and cubes apart, keeping both sums in its state and publishing each.

use serde::{Deserialize, Serialize};
use weft_step_sdk::{Context, Error, step};

#[derive(Default, Serialize, Deserialize)]
pub struct Sum {
    square: i64,
    cubic: i64,
}

#[step]
impl Sum {
    #[kernel_function]
    fn sum_square(&mut self, ctx: &Context, values: Vec<i64>) -> Result<i64, Error> {
        self.square = values.iter().sum();
        ctx.emit_public("SquareSummed", &self.square)?;
        Ok(self.square)
    }

    #[kernel_function]
    fn sum_cubic(&mut self, ctx: &Context, values: Vec<i64>) -> Result<i64, Error> {
        self.cubic = values.iter().sum();
        ctx.emit_public("CubicSummed", &self.cubic)?;
        Ok(self.cubic)
    }
}
