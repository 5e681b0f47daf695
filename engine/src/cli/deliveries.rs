//! After a command drove a run: wait for its webhooks, record what they acknowledged, say what they did
//! not (docs/semantics.md, "External topics").

use std::io::Write;
use std::process::ExitCode;

use super::{EXIT_RUN_FAILED, fail};
use crate::durable::Driver;
use crate::sinks::topics::TopicSinks;

/// Wait for the webhooks of `sinks` to deliver what they were handed. For a durable run (`durable` gives
/// its driver and instance id) record the events they acknowledged; those they did not are delivered
/// again by `weft resume ID`.
///
/// Errors: exit code 1 after saying, for each webhook that gave up, which topic and URL, how many events
/// it left undelivered and why.
pub(super) fn finish<W: Write>(sinks: TopicSinks<W>, durable: Option<(&Driver<'_>, &str)>) -> Result<(), ExitCode> {
    let outcomes = sinks.finish();
    let mut failed = false;
    for (topic, url, outcome) in &outcomes {
        if let Some((why, left)) = &outcome.failed {
            failed = true;
            let again = match durable {
                Some((_, id)) => format!("`weft resume {id}` delivers them again"),
                None => "this run was in memory, so they are lost".into(),
            };
            eprintln!("error: {left} event(s) of topic \"{topic}\" were not delivered to {url}: {why}; {again}");
        }
    }
    if let Some((driver, id)) = durable {
        driver.record_deliveries(id, &outcomes).map_err(|e| {
            fail(EXIT_RUN_FAILED, format!("cannot record webhook deliveries ({e}); they will be delivered again"))
        })?;
    }
    if failed { Err(ExitCode::from(EXIT_RUN_FAILED)) } else { Ok(()) }
}
