//! The account-opening example on its applicant files: approved, sent to manual review (a conditional
//! edge on the credit limit), rejected for credit, rejected for fraud (the all-of group of the two checks
//! waits for both to pass).

use serde_json::json;
use weft_tests::run_example;

fn open(applicant: &str) -> weft_tests::Observed {
    run_example("account-opening", "NewApplication", &format!("applicants/{applicant}"))
}

#[test]
fn approved_applicant_gets_an_account_and_a_welcome_with_the_customer_id() {
    let observed = open("approved.json");
    assert_eq!(observed.event_types(), ["AccountCreated", "WelcomeSent"]);
    let events = observed.events();
    assert_eq!(events[0].1["customerId"], "CUST-100001", "the sequence starts where the definition's state says");
    assert_eq!(events[0].1["creditLimit"], 2400, "rating A: 30% of monthly income");
    assert_eq!(events[1].1["to"], "ada@example.com");
    assert!(events[1].1["body"].as_str().unwrap().contains("Your customer id is CUST-100001"));
    assert_eq!(observed.step_state(0), json!({"checked": 1, "approved": 1}));
    assert_eq!(observed.step_state(2), json!({"nextCustomer": 100002}));
}

#[test]
fn poor_credit_is_rejected_with_reasons() {
    let observed = open("rejected-credit.json");
    assert_eq!(observed.event_types(), ["CreditRejected", "NotificationSent"]);
    let rejected = &observed.events()[0].1;
    assert_eq!(rejected["credit"], json!({"score": 409, "rating": "D", "debtToIncome": 0.543}));
    assert_eq!(rejected["reasons"].as_array().unwrap().len(), 2);
    assert_eq!(observed.step_state(1), json!({"screened": 1, "flagged": 0}), "fraud screening ran beside it");
    assert_eq!(observed.step_state(2), json!({"nextCustomer": 100001}), "no account was opened");
    let waiting: Vec<usize> = observed.state.arrivals[0].iter().map(|q| q.len()).collect();
    assert_eq!(waiting, [0, 1], "the passed fraud check waits in the all-of group for a credit approval");
}

#[test]
fn a_credit_limit_over_5000_goes_to_manual_review_instead_of_an_account() {
    let observed = open("manual-review.json");
    assert_eq!(observed.event_types(), ["ManualReview"]);
    let review = &observed.events[0];
    assert_eq!(review.topic.as_deref(), Some("ManualReview"));
    assert_eq!(review.step, "account");
    assert_eq!(review.data.to_value()["creditLimit"], 6600, "rating A: 30% of a month of 264,000");
    assert_eq!(review.data.to_value()["name"], "Grace Hopper");
    assert_eq!(observed.step_state(2), json!({"nextCustomer": 100001}), "no account was opened");
}

#[test]
fn fraud_signals_reject_an_applicant_with_excellent_credit() {
    let observed = open("rejected-fraud.json");
    assert_eq!(observed.event_types(), ["FraudFlagged", "NotificationSent"]);
    let signals = observed.events()[0].1["reasons"].as_array().unwrap().clone();
    assert_eq!(signals.len(), 3, "{signals:?}");
    assert!(signals[0].as_str().unwrap().contains("666-12-3456"));
    assert_eq!(observed.step_state(0), json!({"checked": 1, "approved": 1}), "credit approved first");
    let notice = &observed.events()[1].1;
    assert_eq!(notice["to"], "charlie@mailinator.com");
    assert!(notice["body"].as_str().unwrap().starts_with("Dear Charlie, we cannot open your account: SSN 666-12-3456"));
}
