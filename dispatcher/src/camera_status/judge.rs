//! Pure decisions over the status board: which cameras nobody watches, and which open
//! camera-fault incidents the camera's own status shows are over.
//!
//! - **Unwatched**: an enabled camera of the inventory whose latest status was read longer
//!   than `after` ago — or, read only as history, whose silence began when this dispatcher
//!   reached the end of the topic. Nothing is judged until the broker has answered for
//!   `after` without a break: during an outage every camera is silent, and after it the
//!   edges need an interval to be heard again. An episode is named by the offset of the
//!   camera's latest status, so every dispatcher raises the same one (its alert id is made
//!   from it) and the store keeps one.
//! - **Recovered**: an open `camera_unwatched` incident whose camera has a live status again;
//!   an open video-loss / frozen / covered incident whose camera's live status is newer than
//!   the incident's last alert, streams, and no longer lists that fault.

use super::board::{BoardState, Entry};
use crate::store::CameraHealthRow;
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};
use uuid::Uuid;
use xueliang_core::CameraId;
use xueliang_core::contract::{CameraStatusV1, EventType, StreamState};

#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    Unwatched {
        camera: CameraId,
        /// The latest status, if any edge ever reported the camera.
        last: Option<Box<CameraStatusV1>>,
        /// The latest status's offset (-1: none): names the episode.
        episode: i64,
        silent: Duration,
    },
    Recovered {
        incident: Uuid,
        camera: CameraId,
        event_type: EventType,
        by: Box<CameraStatusV1>,
    },
}

pub struct Judge {
    after: Duration,
    /// Episodes already raised, so one is raised once per dispatcher run.
    raised: HashMap<CameraId, i64>,
    /// Incidents already closed (or tried), so each is tried once.
    closed: HashSet<Uuid>,
    /// When each camera was first expected to be watched: a camera added to the inventory
    /// while running gets `after` from then, not from the start.
    expected_since: HashMap<CameraId, Instant>,
}

impl Judge {
    pub fn new(after: Duration) -> Judge {
        Judge {
            after,
            raised: HashMap::new(),
            closed: HashSet::new(),
            expected_since: HashMap::new(),
        }
    }

    /// Whether `entry` was read live within `after`.
    fn fresh(&self, entry: &Entry, now: Instant) -> bool {
        entry
            .live_at
            .is_some_and(|at| now.saturating_duration_since(at) < self.after)
    }

    pub fn judge(
        &mut self,
        now: Instant,
        board: &BoardState,
        cameras: &[CameraId],
        open: &[CameraHealthRow],
    ) -> Vec<Decision> {
        let mut out = Vec::new();
        let reachable_long_enough = board
            .reachable_since
            .is_some_and(|t| now.saturating_duration_since(t) >= self.after);
        if self.expected_since.len() != cameras.len()
            || cameras.iter().any(|c| !self.expected_since.contains_key(c))
        {
            let wanted: HashSet<&CameraId> = cameras.iter().collect();
            self.expected_since.retain(|c, _| wanted.contains(c));
            for c in cameras {
                self.expected_since.entry(c.clone()).or_insert(now);
            }
        }
        if let (Some(caught_up), true) = (board.caught_up_at, reachable_long_enough) {
            for camera in cameras {
                let entry = board.entries.get(camera);
                let heard = entry
                    .and_then(|e| e.live_at)
                    .unwrap_or(caught_up)
                    .max(self.expected_since[camera]);
                let silent = now.saturating_duration_since(heard);
                let episode = entry.map_or(-1, |e| e.offset);
                if silent >= self.after && self.raised.get(camera) != Some(&episode) {
                    self.raised.insert(camera.clone(), episode);
                    out.push(Decision::Unwatched {
                        camera: camera.clone(),
                        last: entry.map(|e| Box::new(e.status.clone())),
                        episode,
                        silent,
                    });
                }
            }
        }
        self.closed
            .retain(|id| open.iter().any(|r| &r.incident_id == id));
        for row in open {
            if self.closed.contains(&row.incident_id) {
                continue;
            }
            let Some(entry) = board.entries.get(&row.camera_id) else {
                continue;
            };
            if !self.fresh(entry, now) {
                continue;
            }
            let s = &entry.status;
            let over = match row.event_type {
                EventType::CameraUnwatched => true,
                t if t.is_camera_fault() => {
                    s.observed_at > row.last_seen
                        && s.state == StreamState::Streaming
                        && !s.faults.contains(&t)
                }
                _ => false,
            };
            if over {
                self.closed.insert(row.incident_id);
                out.push(Decision::Recovered {
                    incident: row.incident_id,
                    camera: row.camera_id.clone(),
                    event_type: row.event_type,
                    by: Box::new(s.clone()),
                });
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Utc};

    const AFTER: Duration = Duration::from_secs(30);

    fn cam(i: u32) -> CameraId {
        CameraId::new(format!("cam-{i}")).unwrap()
    }

    fn status(i: u32, at: DateTime<Utc>, state: StreamState, faults: &[EventType]) -> Vec<u8> {
        CameraStatusV1 {
            schema_version: 1,
            camera_id: cam(i),
            node: "edge-1".into(),
            state,
            reason: None,
            since: at,
            last_frame_at: Some(at),
            fps_received: 25.0,
            fps_analysed: 1.0,
            faults: faults.to_vec(),
            reconnects: 0,
            observed_at: at,
        }
        .to_json()
    }

    fn board(t0: Instant) -> BoardState {
        BoardState {
            caught_up_at: Some(t0),
            reachable_since: Some(t0),
            ..Default::default()
        }
    }

    fn row(i: u32, t: EventType, last_seen: DateTime<Utc>) -> CameraHealthRow {
        CameraHealthRow {
            camera_id: cam(i),
            event_type: t,
            incident_id: Uuid::from_u128(u128::from(i) << 8 | t as u128),
            since: last_seen,
            last_seen,
        }
    }

    fn unwatched(d: &[Decision]) -> Vec<(CameraId, i64)> {
        d.iter()
            .filter_map(|d| match d {
                Decision::Unwatched {
                    camera, episode, ..
                } => Some((camera.clone(), *episode)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_camera_silent_for_the_limit_is_unwatched_once_per_episode() {
        let t0 = Instant::now();
        let wall = Utc::now();
        let mut b = board(t0);
        b.apply(
            "cam-1",
            Some(&status(1, wall, StreamState::Streaming, &[])),
            7,
            Some(t0),
        )
        .unwrap();
        let mut j = Judge::new(AFTER);
        let cams = [cam(1), cam(2)];
        assert!(j.judge(t0, &b, &cams, &[]).is_empty());
        // A takeover-sized gap is not unwatched.
        assert!(
            j.judge(t0 + Duration::from_secs(12), &b, &cams, &[])
                .is_empty()
        );
        let d = j.judge(t0 + AFTER, &b, &cams, &[]);
        assert_eq!(
            unwatched(&d),
            [(cam(1), 7), (cam(2), -1)],
            "cam-2 never reported"
        );
        assert!(
            j.judge(t0 + AFTER * 2, &b, &cams, &[]).is_empty(),
            "once per episode"
        );
        // It reports again, then goes silent again: a new episode.
        let t1 = t0 + AFTER * 2;
        b.apply(
            "cam-1",
            Some(&status(1, wall, StreamState::Streaming, &[])),
            9,
            Some(t1),
        )
        .unwrap();
        assert!(
            j.judge(t1 + Duration::from_secs(1), &b, &cams[..1], &[])
                .is_empty()
        );
        assert_eq!(
            unwatched(&j.judge(t1 + AFTER, &b, &cams[..1], &[])),
            [(cam(1), 9)]
        );
    }

    #[test]
    fn a_camera_added_while_running_gets_the_full_limit_from_then() {
        let t0 = Instant::now();
        let b = board(t0);
        let mut j = Judge::new(AFTER);
        assert!(j.judge(t0, &b, &[cam(1)], &[]).is_empty());
        let added = t0 + AFTER * 3;
        let both = [cam(1), cam(2)];
        assert_eq!(unwatched(&j.judge(added, &b, &both, &[])), [(cam(1), -1)]);
        assert!(
            j.judge(added + AFTER - Duration::from_secs(1), &b, &both, &[])
                .is_empty()
        );
        assert_eq!(
            unwatched(&j.judge(added + AFTER, &b, &both, &[])),
            [(cam(2), -1)]
        );
    }

    #[test]
    fn nothing_is_unwatched_while_or_soon_after_the_broker_is_away() {
        let t0 = Instant::now();
        let mut b = board(t0);
        let mut j = Judge::new(AFTER);
        let cams = [cam(1)];
        j.judge(t0, &b, &cams, &[]);
        b.reachable_since = None;
        assert!(
            j.judge(t0 + AFTER * 3, &b, &cams, &[]).is_empty(),
            "broker away"
        );
        b.reachable_since = Some(t0 + AFTER * 3);
        assert!(
            j.judge(t0 + AFTER * 3 + Duration::from_secs(10), &b, &cams, &[])
                .is_empty(),
            "the edges get `after` to be heard again"
        );
        assert_eq!(unwatched(&j.judge(t0 + AFTER * 4, &b, &cams, &[])).len(), 1);
        // Nor before the reader has read the topic to its end.
        let mut b = board(t0);
        b.caught_up_at = None;
        assert!(
            Judge::new(AFTER)
                .judge(t0 + AFTER * 9, &b, &cams, &[])
                .is_empty()
        );
    }

    #[test]
    fn history_read_at_start_neither_watches_nor_recovers_a_camera() {
        let t0 = Instant::now();
        let wall = Utc::now();
        let mut b = board(t0);
        b.apply(
            "cam-1",
            Some(&status(1, wall, StreamState::Streaming, &[])),
            3,
            None,
        )
        .unwrap();
        let open = [
            row(1, EventType::CameraUnwatched, wall),
            row(
                1,
                EventType::VideoLoss,
                wall - chrono::Duration::seconds(60),
            ),
        ];
        let mut j = Judge::new(AFTER);
        assert!(j.judge(t0, &b, &[cam(1)], &open).is_empty());
        assert_eq!(
            unwatched(&j.judge(t0 + AFTER, &b, &[cam(1)], &open)),
            [(cam(1), 3)]
        );
    }

    #[test]
    fn faults_close_when_a_newer_live_status_no_longer_has_them() {
        let t0 = Instant::now();
        let wall = Utc::now();
        let later = wall + chrono::Duration::seconds(5);
        let mut b = board(t0);
        let open = [
            row(1, EventType::VideoLoss, wall),
            row(1, EventType::FrozenPicture, wall),
            row(2, EventType::CameraUnwatched, wall),
            row(3, EventType::LensCovered, wall),
            row(4, EventType::ZoneIntrusion, wall),
        ];
        // Older than the alert: proves nothing.
        b.apply(
            "cam-1",
            Some(&status(
                1,
                wall - chrono::Duration::seconds(1),
                StreamState::Streaming,
                &[],
            )),
            1,
            Some(t0),
        )
        .unwrap();
        b.apply(
            "cam-3",
            Some(&status(3, later, StreamState::Offline, &[])),
            2,
            Some(t0),
        )
        .unwrap();
        let mut j = Judge::new(AFTER);
        assert!(j.judge(t0, &b, &[], &open).is_empty());
        b.apply(
            "cam-1",
            Some(&status(
                1,
                later,
                StreamState::Streaming,
                &[EventType::FrozenPicture],
            )),
            4,
            Some(t0),
        )
        .unwrap();
        b.apply(
            "cam-2",
            Some(&status(2, wall, StreamState::Connecting, &[])),
            5,
            Some(t0),
        )
        .unwrap();
        b.apply(
            "cam-4",
            Some(&status(4, later, StreamState::Streaming, &[])),
            6,
            Some(t0),
        )
        .unwrap();
        let d = j.judge(t0 + Duration::from_secs(1), &b, &[], &open);
        let closed: Vec<(CameraId, EventType)> = d
            .iter()
            .filter_map(|d| match d {
                Decision::Recovered {
                    camera, event_type, ..
                } => Some((camera.clone(), *event_type)),
                _ => None,
            })
            .collect();
        assert_eq!(
            closed,
            [
                (cam(1), EventType::VideoLoss),
                (cam(2), EventType::CameraUnwatched)
            ],
            "frozen is still active, cam-3 is offline, a zone intrusion is no camera fault"
        );
        assert!(
            j.judge(t0 + Duration::from_secs(2), &b, &[], &open)
                .is_empty(),
            "tried once"
        );
    }
}
