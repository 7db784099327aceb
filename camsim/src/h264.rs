//! Just enough H.264 (Annex B) parsing to replay an elementary stream over RTP.
//!
//! Design decisions:
//! - **Split, don't decode.** The simulator never re-encodes; it only needs NAL boundaries,
//!   access-unit boundaries, which NALs are parameter sets / IDR slices, and a few SPS fields
//!   (profile, level, size, frame rate) for the SDP and for logging.
//! - **Access units are found the way decoders do it** (H.264 7.4.1.2.3, simplified): a new AU
//!   starts at an AUD/SPS/PPS/SEI/prefix NAL, or at a slice whose `first_mb_in_slice` is 0, once
//!   the current AU already holds a slice. That is exact for x264/ffmpeg output (one slice group,
//!   no arbitrary slice order), which is all the simulator is asked to replay.
//! - **The SPS reader is small and checked**: it bails out with `None` on anything truncated
//!   instead of guessing, and the caller falls back to defaults (25 fps) or errors with the file.

/// NAL unit types the simulator treats specially (H.264 table 7-1).
pub mod nal_type {
    pub const NON_IDR: u8 = 1;
    pub const IDR: u8 = 5;
    pub const SEI: u8 = 6;
    pub const SPS: u8 = 7;
    pub const PPS: u8 = 8;
    pub const AUD: u8 = 9;
    pub const END_OF_SEQUENCE: u8 = 10;
    pub const END_OF_STREAM: u8 = 11;
    pub const FILLER: u8 = 12;
}

/// The `nal_unit_type` of a NAL (0 for an empty slice).
pub fn nal_type(nal: &[u8]) -> u8 {
    nal.first().map_or(0, |b| b & 0x1f)
}

/// Is this a coded slice (VCL NAL) that the simulator replays as picture data?
pub fn is_slice(nal: &[u8]) -> bool {
    matches!(nal_type(nal), 1..=5)
}

/// Splits an Annex B byte stream into NAL units (without start codes). Bytes before the first
/// start code and the zero bytes that precede a 4-byte start code are not part of any NAL.
pub fn nal_units(data: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut start: Option<usize> = None;
    let mut i = 0;
    while i + 3 <= data.len() {
        if data[i] == 0 && data[i + 1] == 0 && data[i + 2] == 1 {
            if let Some(s) = start {
                push_trimmed(&mut out, &data[s..i]);
            }
            i += 3;
            start = Some(i);
        } else if data[i + 2] > 1 {
            // No start code can begin at i, i+1 or i+2.
            i += 3;
        } else {
            i += 1;
        }
    }
    if let Some(s) = start {
        push_trimmed(&mut out, &data[s..]);
    }
    out
}

fn push_trimmed<'a>(out: &mut Vec<&'a [u8]>, nal: &'a [u8]) {
    let end = nal.iter().rposition(|&b| b != 0).map_or(0, |p| p + 1);
    if end > 0 {
        out.push(&nal[..end]);
    }
}

/// One access unit: the NALs of one picture, in stream order.
#[derive(Debug, Clone)]
pub struct AccessUnit<'a> {
    pub nals: Vec<&'a [u8]>,
}

impl AccessUnit<'_> {
    /// True if the AU holds an IDR slice (a random access point).
    pub fn is_idr(&self) -> bool {
        self.nals.iter().any(|n| nal_type(n) == nal_type::IDR)
    }
}

/// Groups NAL units into access units (see the module doc for the rule).
pub fn access_units<'a>(nals: &[&'a [u8]]) -> Vec<AccessUnit<'a>> {
    let mut out = Vec::new();
    let mut cur: Vec<&'a [u8]> = Vec::new();
    let mut cur_has_slice = false;
    for &nal in nals {
        let t = nal_type(nal);
        let starts_au = match t {
            6..=9 | 14..=18 => true,
            1 | 5 => nal.get(1).is_some_and(|b| b & 0x80 != 0), // first_mb_in_slice == 0
            _ => false,
        };
        if starts_au && cur_has_slice {
            out.push(AccessUnit {
                nals: std::mem::take(&mut cur),
            });
            cur_has_slice = false;
        }
        cur_has_slice |= is_slice(nal);
        cur.push(nal);
    }
    if cur_has_slice {
        out.push(AccessUnit { nals: cur });
    }
    out
}

/// The SPS fields the simulator uses.
#[derive(Debug, Clone, PartialEq)]
pub struct SpsInfo {
    pub profile_idc: u8,
    pub constraint_flags: u8,
    pub level_idc: u8,
    pub width: u32,
    pub height: u32,
    /// Frames per second from the VUI timing info, when present.
    pub fps: Option<f64>,
}

impl SpsInfo {
    /// `profile-level-id` for the SDP (RFC 6184 section 8.1): profile, constraints, level.
    pub fn profile_level_id(&self) -> String {
        format!(
            "{:02X}{:02X}{:02X}",
            self.profile_idc, self.constraint_flags, self.level_idc
        )
    }
}

/// Parses a sequence parameter set NAL (including its 1-byte NAL header).
pub fn parse_sps(nal: &[u8]) -> Option<SpsInfo> {
    if nal_type(nal) != nal_type::SPS || nal.len() < 4 {
        return None;
    }
    let rbsp = unescape(&nal[1..]);
    let mut r = BitReader::new(&rbsp);
    let profile_idc = r.bits(8)? as u8;
    let constraint_flags = r.bits(8)? as u8;
    let level_idc = r.bits(8)? as u8;
    r.ue()?; // seq_parameter_set_id
    let mut chroma_format_idc = 1;
    let mut separate_colour_plane = false;
    if matches!(
        profile_idc,
        100 | 110 | 122 | 244 | 44 | 83 | 86 | 118 | 128 | 138 | 139 | 134 | 135
    ) {
        chroma_format_idc = r.ue()?;
        if chroma_format_idc == 3 {
            separate_colour_plane = r.bit()?;
        }
        r.ue()?; // bit_depth_luma_minus8
        r.ue()?; // bit_depth_chroma_minus8
        r.bit()?; // qpprime_y_zero_transform_bypass_flag
        if r.bit()? {
            let lists = if chroma_format_idc == 3 { 12 } else { 8 };
            for i in 0..lists {
                if r.bit()? {
                    skip_scaling_list(&mut r, if i < 6 { 16 } else { 64 })?;
                }
            }
        }
    }
    r.ue()?; // log2_max_frame_num_minus4
    match r.ue()? {
        0 => {
            r.ue()?; // log2_max_pic_order_cnt_lsb_minus4
        }
        1 => {
            r.bit()?; // delta_pic_order_always_zero_flag
            r.se()?; // offset_for_non_ref_pic
            r.se()?; // offset_for_top_to_bottom_field
            for _ in 0..r.ue()? {
                r.se()?;
            }
        }
        _ => {}
    }
    r.ue()?; // max_num_ref_frames
    r.bit()?; // gaps_in_frame_num_value_allowed_flag
    let width_mbs = r.ue()? + 1;
    let height_map_units = r.ue()? + 1;
    let frame_mbs_only = r.bit()?;
    if !frame_mbs_only {
        r.bit()?; // mb_adaptive_frame_field_flag
    }
    r.bit()?; // direct_8x8_inference_flag
    let (mut crop_l, mut crop_r, mut crop_t, mut crop_b) = (0, 0, 0, 0);
    if r.bit()? {
        crop_l = r.ue()?;
        crop_r = r.ue()?;
        crop_t = r.ue()?;
        crop_b = r.ue()?;
    }
    let field_factor = if frame_mbs_only { 1 } else { 2 };
    let (crop_x, crop_y) = if chroma_format_idc == 0 || separate_colour_plane {
        (1, field_factor)
    } else {
        let sub_w = if chroma_format_idc == 3 { 1 } else { 2 };
        let sub_h = if chroma_format_idc == 1 { 2 } else { 1 };
        (sub_w, sub_h * field_factor)
    };
    let width = (width_mbs * 16).checked_sub(crop_x * (crop_l + crop_r))?;
    let height = (field_factor * height_map_units * 16).checked_sub(crop_y * (crop_t + crop_b))?;
    let fps = if r.bit().unwrap_or(false) {
        parse_vui_fps(&mut r)
    } else {
        None
    };
    Some(SpsInfo {
        profile_idc,
        constraint_flags,
        level_idc,
        width,
        height,
        fps,
    })
}

fn parse_vui_fps(r: &mut BitReader<'_>) -> Option<f64> {
    if r.bit()? {
        // aspect_ratio_info_present_flag
        if r.bits(8)? == 255 {
            r.bits(32)?; // sar_width, sar_height
        }
    }
    if r.bit()? {
        r.bit()?; // overscan_appropriate_flag
    }
    if r.bit()? {
        r.bits(4)?; // video_format, video_full_range_flag
        if r.bit()? {
            r.bits(24)?; // colour primaries, transfer, matrix
        }
    }
    if r.bit()? {
        r.ue()?;
        r.ue()?; // chroma sample locations
    }
    if !r.bit()? {
        return None;
    }
    let num_units_in_tick = r.bits(32)?;
    let time_scale = r.bits(32)?;
    if num_units_in_tick == 0 || time_scale == 0 {
        return None;
    }
    // One frame is two ticks for progressive streams (H.264 E.2.1, x264/ffmpeg convention).
    Some(f64::from(time_scale) / (2.0 * f64::from(num_units_in_tick)))
}

fn skip_scaling_list(r: &mut BitReader<'_>, size: usize) -> Option<()> {
    let mut last = 8i64;
    let mut next = 8i64;
    for _ in 0..size {
        if next != 0 {
            next = (last + r.se()? + 256) % 256;
        }
        if next != 0 {
            last = next;
        }
    }
    Some(())
}

/// Removes emulation-prevention bytes (`00 00 03` → `00 00`); H.265 uses the same rule.
pub(super) fn unescape(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    let mut zeros = 0;
    for &b in data {
        if zeros >= 2 && b == 3 {
            zeros = 0;
            continue;
        }
        zeros = if b == 0 { zeros + 1 } else { 0 };
        out.push(b);
    }
    out
}

/// Reads RBSP bits MSB first, with Exp-Golomb codes (shared with [`super::h265`]).
pub(super) struct BitReader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> BitReader<'a> {
    pub(super) fn new(data: &'a [u8]) -> Self {
        BitReader { data, pos: 0 }
    }

    pub(super) fn bit(&mut self) -> Option<bool> {
        let byte = *self.data.get(self.pos / 8)?;
        let v = byte & (0x80 >> (self.pos % 8)) != 0;
        self.pos += 1;
        Some(v)
    }

    pub(super) fn bits(&mut self, n: u32) -> Option<u32> {
        let mut v = 0u32;
        for _ in 0..n {
            v = (v << 1) | u32::from(self.bit()?);
        }
        Some(v)
    }

    pub(super) fn ue(&mut self) -> Option<u32> {
        let mut zeros = 0;
        while !self.bit()? {
            zeros += 1;
            if zeros > 31 {
                return None;
            }
        }
        Some((1u32 << zeros) - 1 + self.bits(zeros)?)
    }

    pub(super) fn se(&mut self) -> Option<i64> {
        let k = i64::from(self.ue()?);
        Some(if k % 2 == 1 { (k + 1) / 2 } else { -(k / 2) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SPS written by x264 for vtest.avi re-encoded at 768x576 (High, level 3.1, 25 fps VUI).
    const VTEST_SPS: &[u8] = &[
        0x67, 0x64, 0x00, 0x1f, 0xac, 0xb4, 0x06, 0x00, 0x93, 0x42, 0x00, 0x00, 0x03, 0x00, 0x02,
        0x00, 0x00, 0x03, 0x00, 0x64, 0x1e, 0x30, 0x65, 0x40,
    ];

    #[test]
    fn splits_three_and_four_byte_start_codes() {
        let data = [
            0, 0, 0, 1, 0x67, 1, 2, 0, 0, 1, 0x68, 3, 0, 0, 0, 0, 1, 0x65, 0, 0, 3, 1,
        ];
        let nals = nal_units(&data);
        assert_eq!(
            nals,
            vec![&[0x67, 1, 2][..], &[0x68, 3], &[0x65, 0, 0, 3, 1]]
        );
    }

    #[test]
    fn groups_access_units() {
        let sps: &[u8] = &[0x67, 1];
        let pps: &[u8] = &[0x68, 1];
        let idr: &[u8] = &[0x65, 0x88];
        let p1: &[u8] = &[0x41, 0x9a];
        let p1_second_slice: &[u8] = &[0x41, 0x40];
        let p2: &[u8] = &[0x41, 0x9b];
        let aus = access_units(&[sps, pps, idr, p1, p1_second_slice, p2]);
        assert_eq!(aus.len(), 3);
        assert!(aus[0].is_idr());
        assert_eq!(aus[0].nals.len(), 3);
        assert_eq!(aus[1].nals, vec![p1, p1_second_slice]);
        assert!(!aus[2].is_idr());
    }

    #[test]
    fn parses_x264_sps() {
        let sps = parse_sps(VTEST_SPS).expect("parses");
        assert_eq!((sps.width, sps.height), (768, 576));
        assert_eq!(sps.profile_level_id(), "64001F");
        assert_eq!(sps.fps, Some(25.0));
    }

    #[test]
    fn truncated_sps_is_none_not_garbage() {
        assert_eq!(parse_sps(&VTEST_SPS[..6]), None);
    }

    #[test]
    fn exp_golomb() {
        // 1 | 010 | 011 | 00100 | 00101 → ue 0,1,2,3 then se(4) = -2
        let data = [0b1010_0110, 0b0100_0010, 0b1000_0000];
        let mut r = BitReader::new(&data);
        assert_eq!(r.ue(), Some(0));
        assert_eq!(r.ue(), Some(1));
        assert_eq!(r.ue(), Some(2));
        assert_eq!(r.ue(), Some(3));
        assert_eq!(r.se(), Some(-2));
    }
}
