//! A clip turned into RTP payloads once, then shared read-only by every session.
//!
//! Design decisions:
//! - **Packetize at load, not per session.** Each access unit becomes its RTP payloads stored
//!   back to back in one buffer. A TCP session only writes the 4-byte interleave prefix and the
//!   12-byte RTP header per packet and points the kernel at the shared payload bytes (`writev`),
//!   so 2,000 sessions cost 2,000 × headers, not 2,000 × payloads (a UDP session copies each
//!   packet into its datagram).
//! - **H.264 or H.265, told from the bytes.** A stream holding an H.265 VPS NAL is H.265 (the
//!   same two bytes would be an H.264 NAL of the unspecified type 0, which encoders never write),
//!   anything else is read as H.264. Both become single NAL unit packets when they fit in
//!   [`MAX_PAYLOAD`], else fragmentation units: FU-A (RFC 6184 5.8) or FU type 49 (RFC 7798
//!   4.4.3, no DONL: the SDP announces no `sprop-max-don-diff`). No aggregation packets: the
//!   small NALs are parameter sets that travel once per GOP.
//! - **Every keyframe carries its parameter sets.** If the file lacks in-band SPS/PPS (and VPS)
//!   before an IDR/IRAP, the first ones seen are inserted, so a client joining at any keyframe
//!   can decode.
//! - **Dropped:** AUDs, end-of-sequence/stream and filler NALs (RTP has its own framing), and any
//!   AUs before the first keyframe (a session must start decodable).

use std::path::{Path, PathBuf};

use base64::Engine as _;

use super::{h264, h265};
use xueliang_ingest::decode::Codec;

/// Largest RTP payload: keeps a packet plus RTP/TCP/IP headers under a 1,500-byte MTU, which
/// matters for cameras reached over UDP and costs nothing over TCP.
pub const MAX_PAYLOAD: usize = 1400;

/// Facts about a loaded clip (for logs, the CLI and tests).
#[derive(Debug, Clone, PartialEq)]
pub struct ClipInfo {
    pub path: PathBuf,
    pub codec: Codec,
    pub width: u32,
    pub height: u32,
    /// Access units (pictures) in one loop of the clip.
    pub frames: usize,
    /// Frame rate written in the SPS VUI, if any (read for H.264 only).
    pub fps_in_stream: Option<f64>,
    /// Largest distance between two keyframes, in frames (the loop counts as a GOP boundary).
    pub max_gop: usize,
    /// `profile-level-id` (H.264) or `profile-id` (H.265) as sent in the SDP.
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
    #[error("clip {path} is not a usable H.264 or H.265 Annex B stream: {reason}")]
    Invalid { path: PathBuf, reason: String },
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct PacketRef {
    pub start: u32,
    pub len: u32,
    /// Whether the payload holds slice data (eligible for the corruption fault).
    pub slice: bool,
    /// Leading bytes the corruption fault never touches: the NAL or FU headers, plus the first
    /// slice byte in H.265 (its top bit marks the first slice segment of a picture, which
    /// clients may use to find picture boundaries).
    pub header: u8,
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
    /// The parameter sets in decoding order: SPS, PPS (H.264) or VPS, SPS, PPS (H.265).
    pub(crate) params: Vec<Vec<u8>>,
    pub(crate) info: ClipInfo,
}

/// What the packetizer needs to know about a NAL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NalRole {
    /// The parameter set at this index of [`PacketizedClip::params`].
    Param(usize),
    Slice,
    /// Framing-only NALs that RTP replaces.
    Drop,
    Other,
}

fn nal_role(codec: Codec, nal: &[u8]) -> NalRole {
    match codec {
        Codec::H264 => match h264::nal_type(nal) {
            h264::nal_type::SPS => NalRole::Param(0),
            h264::nal_type::PPS => NalRole::Param(1),
            h264::nal_type::AUD
            | h264::nal_type::END_OF_SEQUENCE
            | h264::nal_type::END_OF_STREAM
            | h264::nal_type::FILLER => NalRole::Drop,
            _ if h264::is_slice(nal) => NalRole::Slice,
            _ => NalRole::Other,
        },
        Codec::H265 => match h265::nal_type(nal) {
            h265::nal_type::VPS => NalRole::Param(0),
            h265::nal_type::SPS => NalRole::Param(1),
            h265::nal_type::PPS => NalRole::Param(2),
            h265::nal_type::AUD
            | h265::nal_type::END_OF_SEQUENCE
            | h265::nal_type::END_OF_BITSTREAM
            | h265::nal_type::FILLER => NalRole::Drop,
            _ if h265::is_vcl(nal) => NalRole::Slice,
            _ => NalRole::Other,
        },
    }
}

/// H.265 if the stream holds a VPS (see the module doc), else H.264.
fn detect_codec(nals: &[&[u8]]) -> Codec {
    let is_vps = |n: &&[u8]| {
        // forbidden_zero_bit 0, nuh_layer_id 0, nuh_temporal_id_plus1 1.
        h265::nal_type(n) == h265::nal_type::VPS && n[0] & 0x81 == 0 && n[1] == 0x01
    };
    if nals.iter().any(is_vps) {
        Codec::H265
    } else {
        Codec::H264
    }
}

/// The codec-specific reading of a stream: parameter sets, picture facts and access units
/// (with their keyframe flag).
struct Parsed<'a> {
    params: Vec<Vec<u8>>,
    width: u32,
    height: u32,
    fps: Option<f64>,
    profile: String,
    aus: Vec<(Vec<&'a [u8]>, bool)>,
}

fn parse_h264<'a>(nals: &[&'a [u8]]) -> Result<Parsed<'a>, &'static str> {
    let find = |t: u8, what| {
        nals.iter()
            .find(|n| h264::nal_type(n) == t)
            .map(|n| n.to_vec())
            .ok_or(what)
    };
    let sps = find(h264::nal_type::SPS, "no SPS NAL unit found")?;
    let pps = find(h264::nal_type::PPS, "no PPS NAL unit found")?;
    let info = h264::parse_sps(&sps).ok_or("the SPS could not be parsed")?;
    let aus = h264::access_units(nals)
        .into_iter()
        .map(|au| {
            let idr = au.is_idr();
            (au.nals, idr)
        })
        .collect();
    Ok(Parsed {
        params: vec![sps, pps],
        width: info.width,
        height: info.height,
        fps: info.fps,
        profile: info.profile_level_id(),
        aus,
    })
}

fn parse_h265<'a>(nals: &[&'a [u8]]) -> Result<Parsed<'a>, &'static str> {
    let find = |t: u8, what| {
        nals.iter()
            .find(|n| h265::nal_type(n) == t)
            .map(|n| n.to_vec())
            .ok_or(what)
    };
    let vps = find(h265::nal_type::VPS, "no VPS NAL unit found")?;
    let sps = find(h265::nal_type::SPS, "no SPS NAL unit found")?;
    let pps = find(h265::nal_type::PPS, "no PPS NAL unit found")?;
    let info = h265::parse_sps(&sps).ok_or("the SPS could not be parsed")?;
    let aus = h265::access_units(nals)
        .into_iter()
        .map(|au| {
            let irap = au.is_irap();
            (au.nals, irap)
        })
        .collect();
    Ok(Parsed {
        params: vec![vps, sps, pps],
        width: info.width,
        height: info.height,
        fps: None,
        profile: info.profile_idc.to_string(),
        aus,
    })
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

    /// Packetizes an in-memory Annex B stream (H.264 or H.265, see the module doc); `path` only
    /// names it in errors and [`ClipInfo`].
    pub fn from_annexb(path: &Path, annexb: &[u8]) -> Result<Self, LoadError> {
        let invalid = |reason: &str| LoadError::Invalid {
            path: path.to_owned(),
            reason: reason.to_owned(),
        };
        let nals = h264::nal_units(annexb);
        let codec = detect_codec(&nals);
        let parsed = match codec {
            Codec::H264 => parse_h264(&nals),
            Codec::H265 => parse_h265(&nals),
        }
        .map_err(invalid)?;
        let first_key = parsed
            .aus
            .iter()
            .position(|(_, key)| *key)
            .ok_or_else(|| invalid("no keyframe (IDR/IRAP picture) found"))?;

        let aus = &parsed.aus[first_key..];
        let mut clip = PacketizedClip {
            data: Vec::with_capacity(annexb.len() + annexb.len() / 64),
            packets: Vec::new(),
            frames: Vec::with_capacity(aus.len()),
            gop_start: Vec::with_capacity(aus.len()),
            params: parsed.params.clone(),
            info: ClipInfo {
                path: path.to_owned(),
                codec,
                width: parsed.width,
                height: parsed.height,
                frames: 0,
                fps_in_stream: parsed.fps,
                max_gop: 0,
                profile_level_id: parsed.profile.clone(),
                payload_bytes: 0,
                packets: 0,
            },
        };
        let mut gop_start = 0u32;
        for (au, key) in aus {
            let mut nals: Vec<&[u8]> = au
                .iter()
                .copied()
                .filter(|n| nal_role(codec, n) != NalRole::Drop)
                .collect();
            if *key {
                // Inserted back to front at 0, so they end up in decoding order.
                for (i, param) in parsed.params.iter().enumerate().rev() {
                    if !nals.iter().any(|n| nal_role(codec, n) == NalRole::Param(i)) {
                        nals.insert(0, param);
                    }
                }
                gop_start = clip.frames.len() as u32;
            }
            clip.push_frame(codec, &nals, *key);
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

    fn push_frame(&mut self, codec: Codec, nals: &[&[u8]], idr: bool) {
        let first_packet = self.packets.len() as u32;
        for nal in nals {
            let slice = nal_role(codec, nal) == NalRole::Slice;
            match codec {
                Codec::H264 => self.push_h264_nal(nal, slice),
                Codec::H265 => self.push_h265_nal(nal, slice),
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

    fn push_h264_nal(&mut self, nal: &[u8], slice: bool) {
        if nal.len() <= MAX_PAYLOAD {
            self.push_packet(&[nal], slice, 2);
            return;
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
            self.push_packet(&[&[indicator, header], chunk], slice, 2);
        }
    }

    fn push_h265_nal(&mut self, nal: &[u8], slice: bool) {
        if nal.len() <= MAX_PAYLOAD {
            self.push_packet(&[nal], slice, 3);
            return;
        }
        // FU (RFC 7798 4.4.3): the payload header is the NAL header with type 49 (F, LayerId
        // and TID kept); the FU header carries S/E + the NAL type; then the NAL body.
        let payload_header = [(nal[0] & 0x81) | (h265::nal_type::FU << 1), nal[1]];
        let nal_type = h265::nal_type(nal);
        let body = &nal[2..];
        let chunks = body.len().div_ceil(MAX_PAYLOAD - 3);
        for (i, chunk) in body.chunks(MAX_PAYLOAD - 3).enumerate() {
            let mut fu_header = nal_type;
            if i == 0 {
                fu_header |= 0x80;
            }
            if i + 1 == chunks {
                fu_header |= 0x40;
            }
            let header = if i == 0 { 4 } else { 3 };
            self.push_packet(&[&payload_header, &[fu_header], chunk], slice, header);
        }
    }

    fn push_packet(&mut self, parts: &[&[u8]], slice: bool, header: u8) {
        let start = self.data.len() as u32;
        for p in parts {
            self.data.extend_from_slice(p);
        }
        self.packets.push(PacketRef {
            start,
            len: self.data.len() as u32 - start,
            slice,
            header,
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

    /// The SDP of one camera. `codec` replaces the clip's encoding name for the
    /// unsupported-codec fault (then no `fmtp` line is sent, as a camera of that codec would not
    /// send this one).
    pub(crate) fn sdp(
        &self,
        camera: usize,
        fps: f64,
        session_id: u64,
        codec: Option<&str>,
    ) -> String {
        let b64 = |nal: &Vec<u8>| base64::engine::general_purpose::STANDARD.encode(nal);
        let media = match (codec, self.info.codec) {
            (None, Codec::H264) => format!(
                "a=rtpmap:96 H264/90000\r\n\
                 a=fmtp:96 packetization-mode=1;profile-level-id={};sprop-parameter-sets={},{}\r\n",
                self.info.profile_level_id,
                b64(&self.params[0]),
                b64(&self.params[1]),
            ),
            // RFC 7798 7.1; no sprop-max-don-diff: packets are sent in decoding order, no DONL.
            (None, Codec::H265) => format!(
                "a=rtpmap:96 H265/90000\r\n\
                 a=fmtp:96 profile-id={};sprop-vps={};sprop-sps={};sprop-pps={}\r\n",
                self.info.profile_level_id,
                b64(&self.params[0]),
                b64(&self.params[1]),
                b64(&self.params[2]),
            ),
            (Some(codec), _) => format!("a=rtpmap:96 {codec}/90000\r\n"),
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

    /// VPS, SPS (1920x1080 Main) and PPS written by x265.
    fn hevc_params() -> [Vec<u8>; 3] {
        [
            vec![
                0x40, 0x01, 0x0c, 0x01, 0xff, 0xff, 0x01, 0x60, 0x00, 0x00, 0x03, 0x00, 0x90, 0x00,
                0x00, 0x03, 0x00, 0x00, 0x03, 0x00, 0x78, 0xba, 0x02, 0x40,
            ],
            vec![
                0x42, 0x01, 0x01, 0x01, 0x60, 0x00, 0x00, 0x03, 0x00, 0x90, 0x00, 0x00, 0x03, 0x00,
                0x00, 0x03, 0x00, 0x78, 0xa0, 0x03, 0xc0, 0x80, 0x11, 0x07, 0xcb, 0x96, 0xe9, 0x29,
                0x30, 0xbc, 0x05, 0xa0, 0x20, 0x00, 0x00, 0x03, 0x00, 0x20, 0x00, 0x00, 0x03, 0x03,
                0x21,
            ],
            vec![0x44, 0x01, 0xc0, 0x73, 0xc1, 0x89],
        ]
    }

    #[test]
    fn h265_fragments_carry_the_payload_header_and_reassemble() {
        let [vps, sps, pps] = hevc_params();
        // IDR_W_RADL (type 19), first slice segment, TID 1; 4,000 body bytes.
        let mut idr = vec![0x26, 0x01, 0xaf];
        idr.extend((0..4000u32).map(|i| (i % 251) as u8));
        let trail = vec![0x02, 0x01, 0xd0, 9, 9];
        let stream = annexb(&[
            vec![0x46, 0x01, 0x50], // AUD: dropped
            vps.clone(),
            sps.clone(),
            pps.clone(),
            idr.clone(),
            trail.clone(),
            vec![0x26, 0x01, 0xaf, 7], // second IDR, no parameter sets in band
        ]);
        let clip = PacketizedClip::from_annexb(Path::new("mem.h265"), &stream).unwrap();
        assert_eq!(clip.info.codec, Codec::H265);
        assert_eq!((clip.info.width, clip.info.height), (1920, 1080));
        assert_eq!(clip.frames.len(), 3);
        assert!(clip.frames[0].idr && !clip.frames[1].idr && clip.frames[2].idr);
        let pkts = clip.frame_packets(clip.frames[0]);
        // VPS, SPS, PPS, then 4,001 body bytes / 1,397 per fragment = 3 fragments.
        assert_eq!(pkts.len(), 6);
        for (pk, nal) in pkts[..3].iter().zip([&vps, &sps, &pps]) {
            assert_eq!(clip.payload(*pk), &nal[..]);
        }
        let mut rebuilt = vec![];
        for (i, pk) in pkts[3..].iter().enumerate() {
            let payload = clip.payload(*pk);
            assert!(payload.len() <= MAX_PAYLOAD);
            assert_eq!((payload[0] >> 1) & 0x3f, 49, "FU payload header type");
            assert_eq!(payload[1], 0x01, "layer and TID kept");
            assert_eq!(payload[2] & 0x80 != 0, i == 0, "start bit");
            assert_eq!(payload[2] & 0x40 != 0, i == 2, "end bit");
            assert_eq!(payload[2] & 0x3f, 19);
            assert!(pk.slice && usize::from(pk.header) >= 3);
            if i == 0 {
                rebuilt.extend_from_slice(&[0x26, 0x01]);
            }
            rebuilt.extend_from_slice(&payload[3..]);
        }
        assert_eq!(rebuilt, idr);
        assert_eq!(
            clip.payload(clip.frame_packets(clip.frames[1])[0]),
            &trail[..]
        );
        let types: Vec<u8> = clip
            .frame_packets(clip.frames[2])
            .iter()
            .map(|p| (clip.payload(*p)[0] >> 1) & 0x3f)
            .collect();
        assert_eq!(
            types,
            vec![32, 33, 34, 19],
            "parameter sets inserted before the IDR"
        );
        let sdp = clip.sdp(0, 25.0, 1, None);
        let b64 = base64::engine::general_purpose::STANDARD;
        assert!(sdp.contains("a=rtpmap:96 H265/90000\r\n"), "{sdp}");
        assert!(
            sdp.contains(&format!(
                "a=fmtp:96 profile-id=1;sprop-vps={};sprop-sps={};sprop-pps={}\r\n",
                b64.encode(&vps),
                b64.encode(&sps),
                b64.encode(&pps)
            )),
            "{sdp}"
        );
    }

    #[test]
    fn h264_is_still_h264() {
        let stream = annexb(&[SPS.to_vec(), vec![0x68, 0xeb, 0xe3, 0xcb], vec![0x65, 0x88]]);
        let clip = PacketizedClip::from_annexb(Path::new("mem"), &stream).unwrap();
        assert_eq!(clip.info.codec, Codec::H264);
        assert!(clip.sdp(0, 25.0, 1, None).contains("H264/90000"));
    }
}
