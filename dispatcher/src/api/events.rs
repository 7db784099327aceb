//! `GET /api/v1/events`: the live push as Server-Sent Events, filtered to what the caller
//! may see.
//!
//! SSE rather than WebSocket: the traffic is one-way, `EventSource` reconnects by itself and
//! sends the session cookie, and it passes through HTTP proxies unchanged. Event names:
//! `incident` (data: an `IncidentChange`), `duty_level` (data: `{"level": …}`), and `resync`
//! when this subscriber fell behind and must reload its queue from the API.

use super::ApiState;
use super::auth::Caller;
use crate::push::Push;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::stream::{self, Stream};
use std::convert::Infallible;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;

const SUBSCRIBERS: &str = "xueliang_dispatcher_push_subscribers";

struct Sub {
    rx: tokio::sync::broadcast::Receiver<std::sync::Arc<Push>>,
    caller: Caller,
    hello: bool,
    shutdown: xueliang_core::shutdown::Shutdown,
}

impl Drop for Sub {
    fn drop(&mut self) {
        ::metrics::gauge!(SUBSCRIBERS).decrement(1.0);
    }
}

pub async fn events(
    State(st): State<ApiState>,
    caller: Caller,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    ::metrics::gauge!(SUBSCRIBERS).increment(1.0);
    let sub = Sub {
        rx: st.hub.subscribe(),
        caller,
        hello: true,
        shutdown: st.shutdown.clone(),
    };
    let s = stream::unfold(sub, |mut sub| async move {
        if sub.hello {
            sub.hello = false;
            // Tells the desk the stream is live (it reloads its queue then, closing the gap
            // between its first GET and the subscription).
            return Some((Ok(Event::default().event("hello").data("{}")), sub));
        }
        loop {
            // Streams end on shutdown so the server can drain instead of waiting on them.
            let next = tokio::select! {
                r = sub.rx.recv() => r,
                _ = sub.shutdown.wait() => return None,
            };
            match next {
                Ok(msg) => {
                    let ev = match msg.as_ref() {
                        Push::Incident(c, json) => {
                            if !sub.caller.may_see(c.desks.iter()) {
                                continue;
                            }
                            Event::default().event("incident").data(json.as_ref())
                        }
                        Push::DutyLevel(l) => Event::default()
                            .event("duty_level")
                            .json_data(serde_json::json!({ "level": l }))
                            .unwrap_or_default(),
                        Push::Resync => Event::default().event("resync").data("{\"missed\":0}"),
                    };
                    return Some((Ok(ev), sub));
                }
                Err(RecvError::Lagged(n)) => {
                    tracing::warn!(user = %sub.caller.user.username, missed = n, "push subscriber fell behind; asking it to resync");
                    let ev = Event::default()
                        .event("resync")
                        .data(format!("{{\"missed\":{n}}}"));
                    return Some((Ok(ev), sub));
                }
                Err(RecvError::Closed) => return None,
            }
        }
    });
    Sse::new(s).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}
