//! Dispatch (Rust): assign the nearest free driver (great-circle distance by the haversine formula) who
//! can have the order at the customer's door within the promise time.

use serde::{Deserialize, Serialize};
use weft_step_sdk::serde_json::{Value, json};
use weft_step_sdk::{Context, Error, step};

/// Average driving speed in town, km/h.
const SPEED_KMH: f64 = 25.0;
/// Longest delivery promised, minutes from the order.
const PROMISE_MINUTES: f64 = 60.0;
/// Mean Earth radius, km (IUGG).
const EARTH_RADIUS_KM: f64 = 6371.0;

#[derive(Debug, Clone, Copy, Deserialize)]
struct Place {
    lat: f64,
    lon: f64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Ready {
    order_id: String,
    customer: Customer,
    restaurant: Place,
    ready_in_minutes: f64,
}

#[derive(Deserialize)]
struct Customer {
    name: String,
    email: String,
    address: Place,
}

/// A driver and where they are.
#[derive(Serialize, Deserialize)]
pub struct Driver {
    id: String,
    name: String,
    lat: f64,
    lon: f64,
    busy: bool,
}

/// The fleet; the process definition gives the drivers.
#[derive(Default, Serialize, Deserialize)]
pub struct Dispatch {
    drivers: Vec<Driver>,
}

#[step(events = ["DriverAssigned", "NoDriverAvailable"])]
impl Dispatch {
    /// Assign a driver to a ready order; emit `DriverAssigned`, or a public `NoDriverAvailable` notice.
    #[kernel_function]
    fn assign(&mut self, ctx: &Context, order: Value) -> Result<(), Error> {
        let o: Ready =
            weft_step_sdk::serde_json::from_value(order).map_err(|e| Error::new(format!("not a ready order: {e}")))?;
        let delivery_km = haversine_km(o.restaurant, o.customer.address);
        let delivery_minutes = delivery_km / SPEED_KMH * 60.0;
        let best = self
            .drivers
            .iter_mut()
            .filter(|d| !d.busy)
            .map(|d| (haversine_km(Place { lat: d.lat, lon: d.lon }, o.restaurant), d))
            .min_by(|a, b| a.0.total_cmp(&b.0));
        let eta = |pickup_km: f64| (pickup_km / SPEED_KMH * 60.0).max(o.ready_in_minutes) + delivery_minutes;
        let reason = match &best {
            None => Some("every driver is busy".to_string()),
            Some((pickup_km, _)) => (eta(*pickup_km) > PROMISE_MINUTES).then(|| {
                format!(
                    "the fastest delivery would take {:.0} minutes, more than {PROMISE_MINUTES:.0}",
                    eta(*pickup_km)
                )
            }),
        };
        if let Some(reason) = reason {
            let notice = json!({
                "orderId": o.order_id,
                "name": o.customer.name,
                "email": o.customer.email,
                "subject": format!("Your order {}", o.order_id),
                "summary": "we cannot deliver your order",
                "reasons": [reason],
            });
            ctx.emit_public("NoDriverAvailable", &notice)?;
            return Ok(());
        }
        let Some((pickup_km, driver)) = best else { return Ok(()) };
        driver.busy = true;
        let eta = eta(pickup_km);
        let assignment = json!({
            "orderId": o.order_id,
            "driver": {"id": driver.id, "name": driver.name},
            "customer": {"name": o.customer.name, "email": o.customer.email},
            "pickupKm": round1(pickup_km),
            "deliveryKm": round1(delivery_km),
            "etaMinutes": eta.ceil(),
        });
        ctx.emit("DriverAssigned", &assignment)?;
        Ok(())
    }
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// Great-circle distance between two places, km.
fn haversine_km(a: Place, b: Place) -> f64 {
    let (la1, la2) = (a.lat.to_radians(), b.lat.to_radians());
    let (dlat, dlon) = ((b.lat - a.lat).to_radians(), (b.lon - a.lon).to_radians());
    let h = (dlat / 2.0).sin().powi(2) + la1.cos() * la2.cos() * (dlon / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_KM * h.sqrt().asin()
}
