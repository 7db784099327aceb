//! Just enough H.265 (Annex B) parsing to replay an elementary stream over RTP (RFC 7798).
//!
//! Design decisions:
//! - **Same shape as [`super::h264`]**: split into NALs (the Annex B start-code scan is codec
//!   independent, so [`super::h264::nal_units`] is reused), group NALs into access units, tell
//!   parameter sets and random access points apart, and read the picture size from the SPS.
//! - **Access units are found the way decoders do it** (H.265 7.4.2.4.4, simplified): a new AU
//!   starts at an AUD/VPS/SPS/PPS/prefix SEI (or a reserved type in 41..=44 / 48..=55) or at a VCL
//!   NAL whose `first_slice_segment_in_pic_flag` is 1, once the current AU already holds a VCL
//!   NAL. That is exact for x265/ffmpeg output with a single layer, which is what camsim replays.
//! - **Keyframes are IRAP pictures** (types 16..=23: BLA, IDR, CRA). The presets are encoded
//!   with closed GOPs and no B-frames, so every IRAP is an IDR and a client joining there decodes
//!   every following picture.
//! - **The SPS reader only goes as far as the picture size** (profile_tier_level is skipped
//!   field by field, then the conformance window is applied). The frame rate would need the
//!   whole SPS up to the VUI (sub-layer ordering, scaling lists, short-term reference picture
//!   sets); camsim falls back to `--fps` or 25 fps instead, which is what the presets use.

use super::h264::{BitReader, unescape};

pub use super::h264::nal_units;

/// NAL unit types the simulator treats specially (H.265 table 7-1).
pub mod nal_type {
    pub const IDR_W_RADL: u8 = 19;
    pub const IDR_N_LP: u8 = 20;
    pub const CRA: u8 = 21;
    pub const VPS: u8 = 32;
    pub const SPS: u8 = 33;
    pub const PPS: u8 = 34;
    pub const AUD: u8 = 35;
    pub const END_OF_SEQUENCE: u8 = 36;
    pub const END_OF_BITSTREAM: u8 = 37;
    pub const FILLER: u8 = 38;
    pub const PREFIX_SEI: u8 = 39;
    /// RFC 7798 aggregation packet (never in a byte stream; only on the wire).
    pub const AP: u8 = 48;
    /// RFC 7798 fragmentation unit.
    pub const FU: u8 = 49;
}

/// The `nal_unit_type` of a NAL (from the 2-byte header); 63 (unspecified) for a NAL too
/// short to have a header, so it is never mistaken for picture data.
pub fn nal_type(nal: &[u8]) -> u8 {
    if nal.len() < 2 {
        return 63;
    }
    (nal[0] >> 1) & 0x3f
}

/// Is this a VCL NAL (coded slice segment) that the simulator replays as picture data?
pub fn is_vcl(nal: &[u8]) -> bool {
    nal_type(nal) < 32
}

/// Is this an IRAP slice (a picture a decoder can start at)?
pub fn is_irap(nal: &[u8]) -> bool {
    (16..=23).contains(&nal_type(nal))
}

/// One access unit: the NALs of one picture, in stream order.
#[derive(Debug, Clone)]
pub struct AccessUnit<'a> {
    pub nals: Vec<&'a [u8]>,
}

impl AccessUnit<'_> {
    /// True if the AU holds an IRAP slice (a random access point).
    pub fn is_irap(&self) -> bool {
        self.nals.iter().any(|n| is_irap(n))
    }
}

/// Groups NAL units into access units (see the module doc for the rule).
pub fn access_units<'a>(nals: &[&'a [u8]]) -> Vec<AccessUnit<'a>> {
    let mut out = Vec::new();
    let mut cur: Vec<&'a [u8]> = Vec::new();
    let mut cur_has_vcl = false;
    for &nal in nals {
        let t = nal_type(nal);
        let vcl = t < 32;
        let starts_au = matches!(t, 32..=35 | 39 | 41..=44 | 48..=55)
            // first_slice_segment_in_pic_flag: the first bit after the 2-byte header.
            || (vcl && nal.get(2).is_some_and(|b| b & 0x80 != 0));
        if starts_au && cur_has_vcl {
            out.push(AccessUnit {
                nals: std::mem::take(&mut cur),
            });
            cur_has_vcl = false;
        }
        cur_has_vcl |= vcl;
        cur.push(nal);
    }
    if cur_has_vcl {
        out.push(AccessUnit { nals: cur });
    }
    out
}

/// The SPS fields the simulator uses.
#[derive(Debug, Clone, PartialEq)]
pub struct SpsInfo {
    /// `general_profile_idc` (1 = Main, 2 = Main 10), sent as the SDP's `profile-id`.
    pub profile_idc: u8,
    pub width: u32,
    pub height: u32,
}

/// Parses a sequence parameter set NAL (including its 2-byte NAL header) up to the picture
/// size; `None` for anything truncated or out of range.
pub fn parse_sps(nal: &[u8]) -> Option<SpsInfo> {
    if nal_type(nal) != nal_type::SPS || nal.len() < 4 {
        return None;
    }
    let rbsp = unescape(&nal[2..]);
    let mut r = BitReader::new(&rbsp);
    r.bits(4)?; // sps_video_parameter_set_id
    let max_sub_layers_minus1 = r.bits(3)?;
    r.bit()?; // sps_temporal_id_nesting_flag
    // profile_tier_level(1, sps_max_sub_layers_minus1), H.265 7.3.3.
    r.bits(3)?; // general_profile_space, general_tier_flag
    let profile_idc = r.bits(5)? as u8;
    r.bits(32)?; // general_profile_compatibility_flags
    r.bits(32)?; // progressive/interlaced/non-packed/frame-only + 43 reserved bits + 1 ...
    r.bits(16)?; // ... = 48 bits of constraint flags in all
    r.bits(8)?; // general_level_idc
    let mut sub_profile = [false; 8];
    let mut sub_level = [false; 8];
    for i in 0..max_sub_layers_minus1 as usize {
        sub_profile[i] = r.bit()?;
        sub_level[i] = r.bit()?;
    }
    if max_sub_layers_minus1 > 0 {
        for _ in max_sub_layers_minus1..8 {
            r.bits(2)?; // reserved_zero_2bits
        }
    }
    for i in 0..max_sub_layers_minus1 as usize {
        if sub_profile[i] {
            r.bits(32)?;
            r.bits(32)?;
            r.bits(24)?; // 88 bits of sub-layer profile
        }
        if sub_level[i] {
            r.bits(8)?; // sub_layer_level_idc
        }
    }
    r.ue()?; // sps_seq_parameter_set_id
    let chroma_format_idc = r.ue()?;
    if chroma_format_idc > 3 {
        return None;
    }
    let separate_colour_plane = chroma_format_idc == 3 && r.bit()?;
    let width = r.ue()?;
    let height = r.ue()?;
    let (mut crop_x, mut crop_y) = (0, 0);
    if r.bit()? {
        // conformance_window_flag: offsets are in chroma sample units (H.265 table 6-1).
        let (sub_w, sub_h) = match (chroma_format_idc, separate_colour_plane) {
            (1, _) => (2, 2),
            (2, _) => (2, 1),
            _ => (1, 1),
        };
        crop_x = sub_w * (r.ue()?.checked_add(r.ue()?)?);
        crop_y = sub_h * (r.ue()?.checked_add(r.ue()?)?);
    }
    let width = width.checked_sub(crop_x).filter(|w| *w > 0)?;
    let height = height.checked_sub(crop_y).filter(|h| *h > 0)?;
    Some(SpsInfo {
        profile_idc,
        width,
        height,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SPS written by x265 for a 1920x1080 Main stream (coded 1920x1088, conformance window
    /// cropping 8 rows).
    const SPS_1080P: &[u8] = &[
        0x42, 0x01, 0x01, 0x01, 0x60, 0x00, 0x00, 0x03, 0x00, 0x90, 0x00, 0x00, 0x03, 0x00, 0x00,
        0x03, 0x00, 0x78, 0xa0, 0x03, 0xc0, 0x80, 0x11, 0x07, 0xcb, 0x96, 0xe9, 0x29, 0x30, 0xbc,
        0x05, 0xa0, 0x20, 0x00, 0x00, 0x03, 0x00, 0x20, 0x00, 0x00, 0x03, 0x03, 0x21,
    ];

    #[test]
    fn parses_the_picture_size_through_the_conformance_window() {
        let sps = parse_sps(SPS_1080P).expect("parses");
        assert_eq!((sps.width, sps.height), (1920, 1080));
        assert_eq!(sps.profile_idc, 1);
    }

    #[test]
    fn truncated_or_foreign_sps_is_none() {
        assert_eq!(parse_sps(&SPS_1080P[..12]), None);
        assert_eq!(
            parse_sps(&[0x67, 0x64, 0x00, 0x1f, 0xac]),
            None,
            "an H.264 SPS"
        );
        assert_eq!(parse_sps(&[]), None);
    }

    #[test]
    fn groups_access_units_and_finds_irap() {
        let vps: &[u8] = &[0x40, 0x01, 0x0c];
        let sps: &[u8] = &[0x42, 0x01, 0x01];
        let pps: &[u8] = &[0x44, 0x01, 0xc1];
        let sei: &[u8] = &[0x4e, 0x01, 0x05];
        let idr: &[u8] = &[0x28, 0x01, 0xaf]; // IDR_N_LP, first slice segment
        let p1: &[u8] = &[0x02, 0x01, 0xd0]; // TRAIL_R, first slice segment
        let p1_second_segment: &[u8] = &[0x02, 0x01, 0x40];
        let p2: &[u8] = &[0x02, 0x01, 0xd1];
        let aus = access_units(&[vps, sps, pps, sei, idr, p1, p1_second_segment, p2]);
        assert_eq!(aus.len(), 3);
        assert!(aus[0].is_irap());
        assert_eq!(aus[0].nals.len(), 5);
        assert_eq!(aus[1].nals, vec![p1, p1_second_segment]);
        assert!(!aus[2].is_irap());
        assert_eq!(nal_type(idr), nal_type::IDR_N_LP);
        assert!(is_vcl(p1) && !is_vcl(sei) && !is_vcl(&[0x02]));
    }
}
