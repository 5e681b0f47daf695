//! How a command that drove a run ends: wait for its webhooks (each commits what it acknowledges), say
//! what they did not deliver, and print the run's summary (docs/semantics.md, "Webhook sinks").

use std::io::Write;
use std::process::ExitCode;

use super::{EXIT_RUN_FAILED, fail, report};
use crate::durable::{Driver, Instance};
use crate::runner::layout::Layout;
use crate::sinks::relay::Relay;

/// Finish with `held`: wait for its webhooks, commit what its sinks acknowledged, say, for each webhook
/// that gave up or refused events, which topic and URL, how many events and why (a durable run's are
/// delivered again by `weft resume ID`, or `weft redeliver ID` for refused ones; an in-memory run's are
/// lost), then print its summary with `json` as [`report`] does.
///
/// Errors: exit code 1 when a webhook left events undelivered or the store failed.
pub(super) fn conclude<W: Write>(
    driver: &Driver<'_>,
    held: &Instance,
    relay: Relay<W>,
    durable: bool,
    json: bool,
) -> Result<ExitCode, ExitCode> {
    let id = &held.info().id;
    let reports = driver.finish(held, relay).map_err(|e| {
        fail(EXIT_RUN_FAILED, format!("cannot record what the sinks acknowledged ({e}); it will be published again"))
    })?;
    let mut failed = false;
    for (topic, url, outcome) in &reports {
        let (again, refused_again) = if durable {
            (format!("`weft resume {id}` delivers them again"), format!("`weft redeliver {id}` offers them again"))
        } else {
            ("this run was in memory, so they are lost".to_owned(), "this run was in memory, so they are lost".into())
        };
        if let Some((why, left)) = &outcome.failed {
            failed = true;
            eprintln!("error: {left} event(s) of topic \"{topic}\" were not delivered to {url}: {why}; {again}");
        }
        for (event, why) in &outcome.refused {
            failed = true;
            eprintln!("error: event {event} of topic \"{topic}\" is a dead letter: {why}; {refused_again}");
        }
    }
    let store = driver.store();
    let dead_letters = store.dead_letters(id).map_err(|e| fail(EXIT_RUN_FAILED, e.to_string()))?;
    let code = report(&Layout::of(held.run().process()), held.run().state(), &dead_letters, json);
    if failed { Err(ExitCode::from(EXIT_RUN_FAILED)) } else { Ok(code) }
}
