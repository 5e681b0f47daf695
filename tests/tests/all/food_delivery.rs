//! The food-delivery example (Rust, Python and JavaScript steps in one process) on its order files.

use serde_json::json;
use weft_tests::{Observed, run_example};

fn deliver(order: &str) -> Observed {
    run_example("food-delivery", "OrderReceived", &format!("orders/{order}"))
}

#[test]
fn a_good_order_is_cooked_checked_and_sent_with_the_nearest_free_driver() {
    let observed = deliver("burgers.json");
    assert_eq!(observed.event_types(), ["OrderOnItsWay"]);
    let on_its_way = &observed.events()[0].1;
    assert_eq!(on_its_way["driver"], "Maya", "Maya is nearest; Lena is busy");
    assert_eq!(on_its_way["etaMinutes"], 14, "ready in 10 minutes (2 burgers at the grill) + 1.5 km at 25 km/h");
    assert_eq!(observed.state.superstep, 5, "order, kitchen, quality, dispatch, delivery");
    assert_eq!(observed.step_state(1)["backlog"], json!({"grill": 10, "fryer": 7, "oven": 0, "cold": 3}));
    assert_eq!(observed.step_state(2)["open"], json!({}), "quality closed the order");
    let drivers = &observed.step_state(3)["drivers"];
    assert_eq!(drivers[0]["busy"], true);
}

#[test]
fn an_order_too_far_away_is_declined_through_the_shared_notifier() {
    let observed = deliver("too-far.json");
    assert_eq!(observed.event_types(), ["NoDriverAvailable", "NotificationSent"]);
    let body = observed.events()[1].1["body"].as_str().unwrap().to_string();
    assert!(body.starts_with("Dear Grace, we cannot deliver your order: the fastest delivery would take"), "{body}");
}

#[test]
fn a_cold_platter_too_warm_fails_quality() {
    let observed = deliver("party-platter.json");
    assert_eq!(observed.event_types(), ["QualityFailed", "NotificationSent"]);
    assert_eq!(observed.events()[0].1["reasons"], json!(["Salmon nigiri was at 9 degrees C"]));
}

#[test]
fn an_invalid_order_is_rejected_with_every_reason() {
    let observed = deliver("invalid.json");
    assert_eq!(observed.event_types(), ["OrderRejected", "NotificationSent"]);
    assert_eq!(
        observed.events()[0].1["reasons"],
        json!(["Pizza: we have no wood-fire station", "Soda: quantity 0 is not between 1 and 20"])
    );
    assert_eq!(observed.step_state(1), json!(null), "the kitchen never ran");
}
