//! What an H.265 camera session checks beyond the H.264 path.
//!
//! Design decisions:
//! - **retina depacketizes H.265 itself.** retina 0.4.21, built with its default `h265`
//!   feature, implements RFC 7798 (single NAL unit packets, aggregation packets, fragmentation
//!   units, `sprop-vps/sps/pps`, loss marking, IRAP detection, SPS picture size) and yields the
//!   same Annex B access units as for H.264, with VPS/SPS/PPS on every keyframe under
//!   `FrameFormat::SIMPLE`. So H.265 takes the H.264 path (`demuxed()`), and this module holds
//!   only the two things that path cannot see.
//! - **DONL is refused up front.** retina reads every stream as `tx-mode=SRST` without decoding
//!   order numbers; a camera announcing `sprop-max-don-diff` or `sprop-depack-buf-nalus` above
//!   0 (or multi-session transmission) puts a 2-byte DONL field into every payload, which would
//!   be read as slice data. Such cameras are rare; they get `unsupported_codec` with the reason,
//!   not a garbled picture.
//! - **A payload that is not H.265 is a codec problem, not a network one.** A camera announcing
//!   H265 but sending something else (another codec's RTP payload) fails in retina's
//!   depacketizer before the first frame; that is reported as `unsupported_codec` with the
//!   depacketizer's reason instead of `offline`, so the operator looks at the camera's encoder
//!   settings rather than the network. retina exposes no error kinds, so a depacketizer error
//!   is recognised by the `ssrc:`/`seq:` context lines only its RTP packet errors carry.

/// Why a camera's SDP asks for an RFC 7798 mode the session cannot play: `Some` when the
/// `fmtp` of payload type `payload_type` in a video section announces DONL fields or
/// multi-session transmission.
pub(crate) fn unsupported_sdp_mode(sdp: &[u8], payload_type: u8) -> Option<String> {
    let sdp = String::from_utf8_lossy(sdp);
    let prefix = format!("a=fmtp:{payload_type} ");
    let mut in_video = false;
    for line in sdp.lines().map(str::trim) {
        if line.starts_with("m=") {
            in_video = line.starts_with("m=video");
            continue;
        }
        let Some(params) = line.strip_prefix(&prefix).filter(|_| in_video) else {
            continue;
        };
        for (key, value) in params
            .split(';')
            .filter_map(|p| p.trim().split_once('='))
            .map(|(k, v)| (k.trim(), v.trim()))
        {
            let positive = value.parse::<u64>().is_ok_and(|n| n > 0);
            match key.to_ascii_lowercase().as_str() {
                "sprop-max-don-diff" | "sprop-depack-buf-nalus" if positive => {
                    return Some(format!(
                        "the H.265 stream uses decoding order numbers ({key}={value}), \
                         which are not supported"
                    ));
                }
                "tx-mode" if !value.eq_ignore_ascii_case("SRST") => {
                    return Some(format!(
                        "the H.265 stream uses multi-session transmission (tx-mode={value}), \
                         which is not supported"
                    ));
                }
                _ => {}
            }
        }
    }
    None
}

/// Whether retina's error text is a depacketizer (RTP payload) error rather than a transport
/// or RTSP one (see the module doc).
pub(crate) fn is_payload_error(error_text: &str) -> bool {
    let has = |key: &str| error_text.lines().any(|l| l.trim_start().starts_with(key));
    has("ssrc:") && has("seq:")
}

#[cfg(test)]
mod tests {
    use super::*;

    const SDP: &str = "v=0\r\n\
        o=- 1 1 IN IP4 127.0.0.1\r\n\
        s=cam\r\n\
        t=0 0\r\n\
        m=audio 0 RTP/AVP 97\r\n\
        a=rtpmap:97 MPEG4-GENERIC/16000\r\n\
        a=fmtp:96 sprop-max-don-diff=2\r\n\
        m=video 0 RTP/AVP 96\r\n\
        a=rtpmap:96 H265/90000\r\n";

    #[test]
    fn plain_srst_streams_are_accepted() {
        let sdp = format!("{SDP}a=fmtp:96 profile-id=1;sprop-vps=QAE=;sprop-max-don-diff=0\r\n");
        assert_eq!(unsupported_sdp_mode(sdp.as_bytes(), 96), None);
        assert_eq!(
            unsupported_sdp_mode(SDP.as_bytes(), 96),
            None,
            "audio fmtp ignored"
        );
        assert_eq!(unsupported_sdp_mode(b"\xff\xfe garbage", 96), None);
    }

    #[test]
    fn donl_and_multi_session_are_refused_with_the_parameter() {
        let donl = format!("{SDP}a=fmtp:96 profile-id=1; sprop-max-don-diff=3\r\n");
        let reason = unsupported_sdp_mode(donl.as_bytes(), 96).unwrap();
        assert!(reason.contains("sprop-max-don-diff=3"), "{reason}");
        let buf = format!("{SDP}a=fmtp:96 sprop-depack-buf-nalus=1\r\n");
        assert!(unsupported_sdp_mode(buf.as_bytes(), 96).is_some());
        let msst = format!("{SDP}a=fmtp:96 tx-mode=MSST\r\n");
        assert!(
            unsupported_sdp_mode(msst.as_bytes(), 96)
                .unwrap()
                .contains("MSST")
        );
        assert_eq!(
            unsupported_sdp_mode(donl.as_bytes(), 97),
            None,
            "another payload type's fmtp"
        );
    }

    #[test]
    fn payload_errors_are_told_from_transport_errors() {
        let payload = "unexpected/bad nal header Header { unit_type: 51 }\n\n\
            conn: 127.0.0.1:1->127.0.0.1:2@2026-01-01T00:00:00\n\
            stream: TCP, interleaved channel ids 0-1\n\
            ssrc: 0badcafe\n\
            seq: 1234\n\
            pkt: 0@2026-01-01T00:00:00";
        assert!(is_payload_error(payload));
        let read = "Error reading from RTSP peer: connection reset\n\n\
            conn: 127.0.0.1:1->127.0.0.1:2\nmsg: 0@2026-01-01T00:00:00";
        assert!(!is_payload_error(read));
        assert!(!is_payload_error(""));
    }
}
