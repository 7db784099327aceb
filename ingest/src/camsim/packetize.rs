//! A clip turned into RTP payloads once, then shared read-only by every session.
//!
//! Design decisions:
//! - **Packetize at load, not per session.** Each access unit becomes its RTP payloads (RFC 6184
//!   single NAL unit packets, FU-A for NALs over [`MAX_PAYLOAD`]) stored back to back in one
//!   buffer. A session only writes the 4-byte interleave prefix and the 12-byte RTP header per
//!   packet and points the kernel at the shared payload bytes (`writev`), so 2,000 sessions cost
//!   2,000 × headers, not 2,000 × payloads.
//! - **Every IDR carries its parameter sets.** If the file lacks in-band SPS/PPS before an IDR,
//!   the first ones seen are inserted, so a client joining at any keyframe can decode.
//! - **Dropped:** AUDs, end-of-sequence/stream and filler NALs (RTP has its own framing), and any
//!   AUs before the first IDR (a session must start decodable).

use std::path::{Path, PathBuf};

use base64::Engine as _;

use super::h264::{self, SpsInfo, nal_type};

/// Largest RTP payload: keeps a packet plus RTP/TCP/IP headers under a 1,500-byte MTU, which
/// matters for cameras reached over UDP and costs nothing over TCP.
pub const MAX_PAYLOAD: usize = 1400;

/// Facts about a loaded clip (for logs, the CLI and tests).
#[derive(Debug, Clone, PartialEq)]
pub struct ClipInfo {
    pub path: PathBuf,
    pub width: u32,
    pub height: u32,
    /// Access units (pictures) in one loop of the clip.
    pub frames: usize,
    /// Frame rate written in the SPS VUI, if any.
    pub fps_in_stream: Option<f64>,
    /// Largest distance between two IDRs, in frames (the loop counts as a GOP boundary).
    pub max_gop: usize,
    /// `profile-level-id` as sent in the SDP.
    pub profile_level_id: String,
    /// Sum of RTP payload bytes in one loop.
    pub payload_bytes: usize,
    pub packets: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read clip {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("clip {path} is not a usable H.264 Annex B stream: {reason}")]
    Invalid { path: PathBuf, reason: String },
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct PacketRef {
    pub start: u32,
    pub len: u32,
    /// Whether the payload holds slice data (eligible for the corruption fault).
    pub slice: bool,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct FrameRef {
    pub first_packet: u32,
    pub packets: u32,
    pub idr: bool,
    /// Bytes on the wire for this frame over TCP: payloads plus 16 bytes per packet.
    pub wire_bytes: u32,
}

/// A clip ready to serve: payload bytes, packet and frame tables, SDP parameters.
#[derive(Debug)]
pub struct PacketizedClip {
    pub(crate) data: Vec<u8>,
    pub(crate) packets: Vec<PacketRef>,
    pub(crate) frames: Vec<FrameRef>,
    /// For each frame, the index of the IDR that starts its GOP.
    pub(crate) gop_start: Vec<u32>,
    pub(crate) sps: Vec<u8>,
    pub(crate) pps: Vec<u8>,
    pub(crate) info: ClipInfo,
}

impl PacketizedClip {
    /// Reads and packetizes an Annex B file (blocking: call from `spawn_blocking` in async code).
    pub fn load(path: &Path) -> Result<Self, LoadError> {
        let data = std::fs::read(path).map_err(|source| LoadError::Io {
            path: path.to_owned(),
            source,
        })?;
        Self::from_annexb(path, &data)
    }

    /// Packetizes an in-memory Annex B stream; `path` only names it in errors and [`ClipInfo`].
    pub fn from_annexb(path: &Path, annexb: &[u8]) -> Result<Self, LoadError> {
        let invalid = |reason: &str| LoadError::Invalid {
            path: path.to_owned(),
            reason: reason.to_owned(),
        };
        let nals = h264::nal_units(annexb);
        let sps = nals
            .iter()
            .find(|n| nal_type(n) == nal_type::SPS)
            .ok_or_else(|| invalid("no SPS NAL unit found"))?
            .to_vec();
        let pps = nals
            .iter()
            .find(|n| nal_type(n) == nal_type::PPS)
            .ok_or_else(|| invalid("no PPS NAL unit found"))?
            .to_vec();
        let sps_info: SpsInfo =
            h264::parse_sps(&sps).ok_or_else(|| invalid("the SPS could not be parsed"))?;
        let aus = h264::access_units(&nals);
        let first_idr = aus
            .iter()
            .position(|au| au.is_idr())
            .ok_or_else(|| invalid("no IDR picture found"))?;

        let mut clip = PacketizedClip {
            data: Vec::with_capacity(annexb.len() + annexb.len() / 64),
            packets: Vec::new(),
            frames: Vec::with_capacity(aus.len() - first_idr),
            gop_start: Vec::with_capacity(aus.len() - first_idr),
            sps: sps.clone(),
            pps: pps.clone(),
            info: ClipInfo {
                path: path.to_owned(),
                width: sps_info.width,
                height: sps_info.height,
                frames: 0,
                fps_in_stream: sps_info.fps,
                max_gop: 0,
                profile_level_id: sps_info.profile_level_id(),
                payload_bytes: 0,
                packets: 0,
            },
        };
        let mut gop_start = 0u32;
        for au in &aus[first_idr..] {
            let mut nals: Vec<&[u8]> = au
                .nals
                .iter()
                .copied()
                .filter(|n| {
                    !matches!(
                        nal_type(n),
                        nal_type::AUD
                            | nal_type::END_OF_SEQUENCE
                            | nal_type::END_OF_STREAM
                            | nal_type::FILLER
                    )
                })
                .collect();
            let idr = au.is_idr();
            if idr {
                if !nals.iter().any(|n| nal_type(n) == nal_type::PPS) {
                    nals.insert(0, &pps);
                }
                if !nals.iter().any(|n| nal_type(n) == nal_type::SPS) {
                    nals.insert(0, &sps);
                }
                gop_start = clip.frames.len() as u32;
            }
            clip.push_frame(&nals, idr);
            clip.gop_start.push(gop_start);
        }
        let mut max_gop = 0;
        let mut last_idr = 0;
        for (i, f) in clip.frames.iter().enumerate().skip(1) {
            if f.idr {
                max_gop = max_gop.max(i - last_idr);
                last_idr = i;
            }
        }
        clip.info.max_gop = max_gop.max(clip.frames.len() - last_idr);
        clip.info.frames = clip.frames.len();
        clip.info.payload_bytes = clip.data.len();
        clip.info.packets = clip.packets.len();
        Ok(clip)
    }

    fn push_frame(&mut self, nals: &[&[u8]], idr: bool) {
        let first_packet = self.packets.len() as u32;
        for nal in nals {
            let slice = h264::is_slice(nal);
            if nal.len() <= MAX_PAYLOAD {
                self.push_packet(&[nal], slice);
                continue;
            }
            // FU-A (RFC 6184 5.8): indicator keeps F/NRI, type 28; header carries S/E + type.
            let indicator = (nal[0] & 0xe0) | 28;
            let body = &nal[1..];
            let chunks = body.len().div_ceil(MAX_PAYLOAD - 2);
            for (i, chunk) in body.chunks(MAX_PAYLOAD - 2).enumerate() {
                let mut header = nal[0] & 0x1f;
                if i == 0 {
                    header |= 0x80;
                }
                if i + 1 == chunks {
                    header |= 0x40;
                }
                self.push_packet(&[&[indicator, header], chunk], slice);
            }
        }
        let packets = self.packets.len() as u32 - first_packet;
        let wire_bytes = self.packets[first_packet as usize..]
            .iter()
            .map(|p| p.len + 16)
            .sum();
        self.frames.push(FrameRef {
            first_packet,
            packets,
            idr,
            wire_bytes,
        });
    }

    fn push_packet(&mut self, parts: &[&[u8]], slice: bool) {
        let start = self.data.len() as u32;
        for p in parts {
            self.data.extend_from_slice(p);
        }
        self.packets.push(PacketRef {
            start,
            len: self.data.len() as u32 - start,
            slice,
        });
    }

    pub fn info(&self) -> &ClipInfo {
        &self.info
    }

    pub(crate) fn payload(&self, p: PacketRef) -> &[u8] {
        &self.data[p.start as usize..(p.start + p.len) as usize]
    }

    pub(crate) fn frame_packets(&self, f: FrameRef) -> &[PacketRef] {
        &self.packets[f.first_packet as usize..(f.first_packet + f.packets) as usize]
    }

    /// The SDP of one camera. `codec` replaces `H264` for the unsupported-codec fault (then no
    /// H.264 `fmtp` line is sent, as a camera of that codec would not send one).
    pub(crate) fn sdp(
        &self,
        camera: usize,
        fps: f64,
        session_id: u64,
        codec: Option<&str>,
    ) -> String {
        let b64 = base64::engine::general_purpose::STANDARD;
        let media = match codec {
            None => format!(
                "a=rtpmap:96 H264/90000\r\n\
                 a=fmtp:96 packetization-mode=1;profile-level-id={};sprop-parameter-sets={},{}\r\n",
                self.info.profile_level_id,
                b64.encode(&self.sps),
                b64.encode(&self.pps),
            ),
            Some(codec) => format!("a=rtpmap:96 {codec}/90000\r\n"),
        };
        format!(
            "v=0\r\n\
             o=- {session_id} 1 IN IP4 127.0.0.1\r\n\
             s=xueliang camsim camera {camera}\r\n\
             c=IN IP4 0.0.0.0\r\n\
             t=0 0\r\n\
             a=control:*\r\n\
             a=range:npt=now-\r\n\
             m=video 0 RTP/AVP 96\r\n\
             {media}\
             a=framerate:{fps}\r\n\
             a=x-dimensions:{},{}\r\n\
             a=control:trackID=0\r\n",
            self.info.width, self.info.height,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn annexb(nals: &[Vec<u8>]) -> Vec<u8> {
        nals.iter()
            .flat_map(|n| [0, 0, 0, 1].into_iter().chain(n.iter().copied()))
            .collect()
    }

    const SPS: &[u8] = &[
        0x67, 0x64, 0x00, 0x1f, 0xac, 0xb4, 0x06, 0x00, 0x93, 0x42, 0x00, 0x00, 0x03, 0x00, 0x02,
        0x00, 0x00, 0x03, 0x00, 0x64, 0x1e, 0x30, 0x65, 0x40,
    ];

    #[test]
    fn fu_a_fragments_reassemble_to_the_nal() {
        let mut idr = vec![0x65, 0x88];
        idr.extend((0..5000u32).map(|i| (i % 251) as u8));
        let p = vec![0x41, 0x9a, 1, 2, 3];
        let stream = annexb(&[
            vec![0x09, 0xf0], // AUD before the first IDR: dropped
            SPS.to_vec(),
            vec![0x68, 0xeb, 0xe3, 0xcb],
            idr.clone(),
            p.clone(),
        ]);
        let clip = PacketizedClip::from_annexb(Path::new("mem"), &stream).unwrap();
        assert_eq!(clip.frames.len(), 2);
        assert!(clip.frames[0].idr && !clip.frames[1].idr);
        let pkts = clip.frame_packets(clip.frames[0]);
        // SPS, PPS, then 5001 body bytes / 1398 per fragment = 4 fragments.
        assert_eq!(pkts.len(), 6);
        let mut rebuilt = vec![];
        for (i, pk) in pkts[2..].iter().enumerate() {
            let payload = clip.payload(*pk);
            assert!(payload.len() <= MAX_PAYLOAD);
            assert_eq!(payload[0], 0x60 | 28, "FU indicator keeps NRI");
            assert_eq!(payload[1] & 0x80 != 0, i == 0, "start bit");
            assert_eq!(payload[1] & 0x40 != 0, i == 3, "end bit");
            assert_eq!(payload[1] & 0x1f, 5);
            if i == 0 {
                rebuilt.push(0x65);
            }
            rebuilt.extend_from_slice(&payload[2..]);
        }
        assert_eq!(rebuilt, idr);
        assert_eq!(clip.payload(clip.frame_packets(clip.frames[1])[0]), &p[..]);
        assert_eq!((clip.info.width, clip.info.height), (768, 576));
        assert_eq!(clip.info.max_gop, 2);
    }

    #[test]
    fn idr_without_parameter_sets_gets_them_inserted() {
        let stream = annexb(&[
            SPS.to_vec(),
            vec![0x68, 0xeb, 0xe3, 0xcb],
            vec![0x65, 0x88, 1],
            vec![0x41, 0x9a, 2],
            vec![0x65, 0x88, 3], // second IDR, no SPS/PPS in band
        ]);
        let clip = PacketizedClip::from_annexb(Path::new("mem"), &stream).unwrap();
        let types: Vec<u8> = clip
            .frame_packets(clip.frames[2])
            .iter()
            .map(|p| clip.payload(*p)[0] & 0x1f)
            .collect();
        assert_eq!(types, vec![7, 8, 5]);
        assert_eq!(clip.gop_start, vec![0, 0, 2]);
    }

    #[test]
    fn rejects_streams_without_parameter_sets() {
        let err = PacketizedClip::from_annexb(Path::new("x.h264"), &annexb(&[vec![0x65, 0x88]]))
            .unwrap_err();
        assert!(err.to_string().contains("x.h264"), "{err}");
    }
}
