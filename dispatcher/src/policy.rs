//! Priorities and acknowledgement SLAs: pure functions of severity, event type and the duty
//! level the centre has set (平时 normal / 特殊 special / 战时 wartime).
//!
//! Design decisions:
//! - A raised duty level makes public-safety events one (特殊) or two (战时) steps more
//!   urgent and shortens every acknowledgement SLA (×½, ×¼). Camera faults keep their
//!   priority: a broken camera is maintenance work whatever the duty level.
//! - Priority is fixed when an incident opens and recomputed for open incidents when the duty
//!   level changes; the SLA deadline is always computed from the current duty level, so
//!   raising it tightens the timers of incidents already waiting.

use std::time::Duration;
use xueliang_core::DeskId;
use xueliang_core::config::NodeConfig;
use xueliang_core::contract::{DutyLevel, EventType, Priority, Severity};

#[derive(Debug, Clone)]
pub struct Policy {
    /// Acknowledgement SLA per priority (P1..P4) at the normal duty level.
    pub ack_sla: [Duration; 4],
    /// Where unacknowledged incidents escalate to.
    pub centre: DeskId,
    /// Alerts of one camera and event type this close in time join one incident.
    pub grouping_window: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            ack_sla: [60, 180, 600, 1800].map(Duration::from_secs),
            centre: DeskId::new("centre").expect("valid desk id"),
            grouping_window: Duration::from_secs(300),
        }
    }
}

impl Policy {
    pub fn from_config(node: &NodeConfig) -> Policy {
        Policy {
            ack_sla: node.dispatcher.ack_sla,
            centre: node.centre().id.clone(),
            grouping_window: node.dispatcher.grouping_window,
        }
    }

    pub fn priority(&self, severity: Severity, event: EventType, duty: DutyLevel) -> Priority {
        let base: usize = match severity {
            Severity::Critical => 0,
            Severity::Major => 1,
            Severity::Minor => 2,
            Severity::Info => 3,
        };
        let raise = if event.is_camera_fault() {
            0
        } else {
            match duty {
                DutyLevel::Normal => 0,
                DutyLevel::Special => 1,
                DutyLevel::Wartime => 2,
            }
        };
        PRIORITIES[base.saturating_sub(raise)]
    }

    /// How long an incident of this priority may wait unacknowledged.
    pub fn ack_sla(&self, p: Priority, duty: DutyLevel) -> Duration {
        let base = self.ack_sla[p as usize];
        match duty {
            DutyLevel::Normal => base,
            DutyLevel::Special => base / 2,
            DutyLevel::Wartime => base / 4,
        }
    }
}

pub const PRIORITIES: [Priority; 4] = [Priority::P1, Priority::P2, Priority::P3, Priority::P4];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duty_level_raises_public_safety_events_only() {
        let p = Policy::default();
        let crowd = EventType::CrowdGathering;
        assert_eq!(
            p.priority(Severity::Minor, crowd, DutyLevel::Normal),
            Priority::P3
        );
        assert_eq!(
            p.priority(Severity::Minor, crowd, DutyLevel::Special),
            Priority::P2
        );
        assert_eq!(
            p.priority(Severity::Minor, crowd, DutyLevel::Wartime),
            Priority::P1
        );
        assert_eq!(
            p.priority(Severity::Critical, crowd, DutyLevel::Wartime),
            Priority::P1
        );
        assert_eq!(
            p.priority(Severity::Major, EventType::VideoLoss, DutyLevel::Wartime),
            Priority::P2
        );
    }

    #[test]
    fn duty_level_shortens_slas() {
        let p = Policy::default();
        assert_eq!(p.ack_sla(Priority::P2, DutyLevel::Normal).as_secs(), 180);
        assert_eq!(p.ack_sla(Priority::P2, DutyLevel::Special).as_secs(), 90);
        assert_eq!(p.ack_sla(Priority::P2, DutyLevel::Wartime).as_secs(), 45);
    }
}
