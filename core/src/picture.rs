//! Decoded pixels as they cross from ingest to the analyzer, in the decoder's own layout.
//!
//! Design decisions:
//! - **The decoder's native layout, not BGR.** A software H.264/H.265 decoder produces planar
//!   YUV 4:2:0 (I420); NVIDIA's produces NV12. Converting to BGR and scaling to the model's size
//!   in the decoder pipeline cost as much again as decoding a 360p keyframe (the keyframe
//!   stage ran at 0.52–0.61× the bare decoder: benches/RESULTS.md, "decode stage vs raw
//!   decoder") and wrote an intermediate picture that the detector then read again to
//!   normalise it. The detector's pre-processor has to touch every output pixel anyway, so it
//!   resamples the Y, U and V planes straight into its input tensor and applies the colour
//!   matrix on the way (bilinear interpolation and the YUV→RGB matrix are both linear, so
//!   interpolating first is exact up to clamping). One pass, no intermediate image.
//! - **Borrowed views and owned pictures.** [`PictureRef`] is what readers take (a frame in a
//!   test is a plain `&[u8]` of BGR); [`Picture`] holds refcounted [`Bytes`] planes that share
//!   the decoder's buffer without a copy.
//! - **Colorimetry travels with the planes.** BT.601 vs BT.709 and limited vs full range change
//!   colours visibly; the decoder's caps say which, and the converter honours it.
//! - **Checked at the boundary.** [`PictureRef::check`] verifies every plane against the
//!   declared size and stride once, so pixel loops can index without surprises.

use bytes::Bytes;

/// Pixel layout of a picture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PixelFormat {
    /// 8-bit B, G, R per pixel, one plane.
    Bgr,
    /// Planar YUV 4:2:0: Y, then U and V at half width and half height (rounded up).
    I420,
    /// Y, then one plane of interleaved U, V at half width and half height.
    Nv12,
}

/// Which YUV → RGB matrix the encoder used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum YuvMatrix {
    /// SD video (and what H.264 streams without VUI colour information are taken to be below
    /// 720p).
    #[default]
    Bt601,
    /// HD video.
    Bt709,
}

/// Whether luma spans 16–235 (video, "limited") or 0–255 ("full", e.g. JPEG-derived streams).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum YuvRange {
    #[default]
    Limited,
    Full,
}

/// How to turn a picture's YUV into RGB.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Colorimetry {
    pub matrix: YuvMatrix,
    pub range: YuvRange,
}

/// `R = y·(Y − y0) + rv·V'`, `G = y·(Y − y0) − gu·U' − gv·V'`, `B = y·(Y − y0) + bu·U'` with
/// `U' = U − 128`, `V' = V − 128`; results in 0–255 before clamping.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct YuvToRgb {
    pub y0: f32,
    pub y: f32,
    pub rv: f32,
    pub gu: f32,
    pub gv: f32,
    pub bu: f32,
}

impl Colorimetry {
    /// The conversion coefficients, from the matrix's Kr and Kb.
    pub fn to_rgb(self) -> YuvToRgb {
        let (kr, kb) = match self.matrix {
            YuvMatrix::Bt601 => (0.299f64, 0.114f64),
            YuvMatrix::Bt709 => (0.2126, 0.0722),
        };
        let kg = 1.0 - kr - kb;
        let (y0, y, c) = match self.range {
            YuvRange::Limited => (16.0, 255.0 / 219.0, 255.0 / 224.0),
            YuvRange::Full => (0.0, 1.0, 1.0),
        };
        YuvToRgb {
            y0,
            y: y as f32,
            rv: (c * 2.0 * (1.0 - kr)) as f32,
            gu: (c * 2.0 * (1.0 - kb) * kb / kg) as f32,
            gv: (c * 2.0 * (1.0 - kr) * kr / kg) as f32,
            bu: (c * 2.0 * (1.0 - kb)) as f32,
        }
    }

    /// Full-range (0–255) luma of a stored Y sample.
    pub fn luma(self, y: u8) -> f32 {
        match self.range {
            YuvRange::Limited => ((f32::from(y) - 16.0) * (255.0 / 219.0)).clamp(0.0, 255.0),
            YuvRange::Full => f32::from(y),
        }
    }

    /// [`luma`](Self::luma) of every Y code, rounded: a table for per-pixel loops.
    pub fn luma_table(self) -> [u8; 256] {
        std::array::from_fn(|y| self.luma(y as u8).round() as u8)
    }
}

/// One plane of a picture: rows `stride` bytes apart.
#[derive(Debug, Clone, Copy)]
pub struct Plane<'a> {
    pub data: &'a [u8],
    pub stride: usize,
}

impl<'a> Plane<'a> {
    /// Row `y`, `len` bytes long. The picture must have passed [`PictureRef::check`].
    #[inline]
    pub fn row(&self, y: usize, len: usize) -> &'a [u8] {
        &self.data[y * self.stride..][..len]
    }
}

/// The planes of a borrowed picture.
#[derive(Debug, Clone, Copy)]
pub enum Pixels<'a> {
    Bgr(Plane<'a>),
    I420 {
        y: Plane<'a>,
        u: Plane<'a>,
        v: Plane<'a>,
        colorimetry: Colorimetry,
    },
    Nv12 {
        y: Plane<'a>,
        uv: Plane<'a>,
        colorimetry: Colorimetry,
    },
}

/// A borrowed picture.
#[derive(Debug, Clone, Copy)]
pub struct PictureRef<'a> {
    pub width: u32,
    pub height: u32,
    pub pixels: Pixels<'a>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PictureError {
    #[error("picture is empty ({width}x{height})")]
    Empty { width: u32, height: u32 },
    #[error(
        "{format:?} picture {width}x{height}: plane {plane} stride {stride} is less than its row of {row} bytes"
    )]
    Stride {
        format: PixelFormat,
        width: u32,
        height: u32,
        plane: usize,
        stride: usize,
        row: usize,
    },
    #[error(
        "{format:?} picture {width}x{height}: plane {plane} holds {len} bytes, \
         {rows} rows at stride {stride} need {need}"
    )]
    Short {
        format: PixelFormat,
        width: u32,
        height: u32,
        plane: usize,
        stride: usize,
        rows: usize,
        len: usize,
        need: usize,
    },
}

impl<'a> PictureRef<'a> {
    /// Tightly packed BGR (`stride = 3 * width`).
    pub fn bgr(width: u32, height: u32, data: &'a [u8]) -> Self {
        PictureRef {
            width,
            height,
            pixels: Pixels::Bgr(Plane {
                data,
                stride: 3 * width as usize,
            }),
        }
    }

    pub fn format(&self) -> PixelFormat {
        match self.pixels {
            Pixels::Bgr(_) => PixelFormat::Bgr,
            Pixels::I420 { .. } => PixelFormat::I420,
            Pixels::Nv12 { .. } => PixelFormat::Nv12,
        }
    }

    /// Width and height of the chroma planes of a 4:2:0 picture.
    pub fn chroma_size(&self) -> (usize, usize) {
        (
            (self.width as usize).div_ceil(2),
            (self.height as usize).div_ceil(2),
        )
    }

    /// Checks that every plane really holds the rows the header describes.
    pub fn check(&self) -> Result<(), PictureError> {
        let (w, h) = (self.width as usize, self.height as usize);
        if w == 0 || h == 0 {
            return Err(PictureError::Empty {
                width: self.width,
                height: self.height,
            });
        }
        let (cw, ch) = self.chroma_size();
        let planes: [(Option<Plane<'_>>, usize, usize); 3] = match self.pixels {
            Pixels::Bgr(p) => [(Some(p), 3 * w, h), (None, 0, 0), (None, 0, 0)],
            Pixels::I420 { y, u, v, .. } => [(Some(y), w, h), (Some(u), cw, ch), (Some(v), cw, ch)],
            Pixels::Nv12 { y, uv, .. } => [(Some(y), w, h), (Some(uv), 2 * cw, ch), (None, 0, 0)],
        };
        for (plane, (p, row, rows)) in planes.into_iter().enumerate() {
            let Some(p) = p else { continue };
            if p.stride < row {
                return Err(PictureError::Stride {
                    format: self.format(),
                    width: self.width,
                    height: self.height,
                    plane,
                    stride: p.stride,
                    row,
                });
            }
            let need = p.stride * (rows - 1) + row;
            if p.data.len() < need {
                return Err(PictureError::Short {
                    format: self.format(),
                    width: self.width,
                    height: self.height,
                    plane,
                    stride: p.stride,
                    rows,
                    len: p.data.len(),
                    need,
                });
            }
        }
        Ok(())
    }
}

/// (U, V) of chroma sample (x, y), whatever the layout.
type ChromaAt<'a> = Box<dyn Fn(usize, usize) -> (u8, u8) + 'a>;

impl PictureRef<'_> {
    /// Packed BGR at the picture's own size (chroma nearest-neighbour). For the occasional
    /// full picture (evidence of a frame that has no better source); the detector never
    /// needs it. The picture must have passed [`check`](Self::check).
    pub fn to_bgr(&self) -> Vec<u8> {
        let (w, h) = (self.width as usize, self.height as usize);
        let (cw, _) = self.chroma_size();
        let mut out = Vec::with_capacity(w * h * 3);
        let (m, y, chroma_at): (YuvToRgb, Plane<'_>, ChromaAt<'_>) = match self.pixels {
            Pixels::Bgr(p) => {
                for row in 0..h {
                    out.extend_from_slice(p.row(row, 3 * w));
                }
                return out;
            }
            Pixels::I420 {
                y,
                u,
                v,
                colorimetry,
            } => (
                colorimetry.to_rgb(),
                y,
                Box::new(move |cx, cy| (u.row(cy, cw)[cx], v.row(cy, cw)[cx])),
            ),
            Pixels::Nv12 { y, uv, colorimetry } => (
                colorimetry.to_rgb(),
                y,
                Box::new(move |cx, cy| {
                    let r = uv.row(cy, 2 * cw);
                    (r[2 * cx], r[2 * cx + 1])
                }),
            ),
        };
        let to8 = |v: f32| v.round().clamp(0.0, 255.0) as u8;
        for row in 0..h {
            let luma = y.row(row, w);
            for (x, &l) in luma.iter().enumerate() {
                let (u, v) = chroma_at(x / 2, row / 2);
                let (u, v) = (f32::from(u) - 128.0, f32::from(v) - 128.0);
                let yy = (f32::from(l) - m.y0) * m.y;
                out.extend_from_slice(&[
                    to8(yy + m.bu * u),
                    to8(yy - m.gu * u - m.gv * v),
                    to8(yy + m.rv * v),
                ]);
            }
        }
        out
    }
}

/// An owned picture whose planes share their bytes (e.g. with the decoder's buffer). Cheap to
/// clone.
#[derive(Clone)]
pub struct Picture {
    width: u32,
    height: u32,
    format: PixelFormat,
    planes: [(Bytes, usize); 3],
    colorimetry: Colorimetry,
}

impl Picture {
    /// BGR, with its row stride.
    pub fn bgr(width: u32, height: u32, plane: (Bytes, usize)) -> Picture {
        Picture {
            width,
            height,
            format: PixelFormat::Bgr,
            planes: [plane, Default::default(), Default::default()],
            colorimetry: Colorimetry::default(),
        }
    }

    /// Planar YUV 4:2:0, each plane with its stride.
    pub fn i420(width: u32, height: u32, planes: [(Bytes, usize); 3], c: Colorimetry) -> Picture {
        Picture {
            width,
            height,
            format: PixelFormat::I420,
            planes,
            colorimetry: c,
        }
    }

    /// Y plus interleaved UV, each plane with its stride.
    pub fn nv12(
        width: u32,
        height: u32,
        y: (Bytes, usize),
        uv: (Bytes, usize),
        c: Colorimetry,
    ) -> Picture {
        Picture {
            width,
            height,
            format: PixelFormat::Nv12,
            planes: [y, uv, Default::default()],
            colorimetry: c,
        }
    }

    pub fn width(&self) -> u32 {
        self.width
    }

    pub fn height(&self) -> u32 {
        self.height
    }

    pub fn format(&self) -> PixelFormat {
        self.format
    }

    pub fn colorimetry(&self) -> Colorimetry {
        self.colorimetry
    }

    /// Bytes held by the planes (what a queued picture costs in memory).
    pub fn byte_len(&self) -> usize {
        self.planes.iter().map(|p| p.0.len()).sum()
    }

    pub fn view(&self) -> PictureRef<'_> {
        let p = |i: usize| Plane {
            data: &self.planes[i].0,
            stride: self.planes[i].1,
        };
        let pixels = match self.format {
            PixelFormat::Bgr => Pixels::Bgr(p(0)),
            PixelFormat::I420 => Pixels::I420 {
                y: p(0),
                u: p(1),
                v: p(2),
                colorimetry: self.colorimetry,
            },
            PixelFormat::Nv12 => Pixels::Nv12 {
                y: p(0),
                uv: p(1),
                colorimetry: self.colorimetry,
            },
        };
        PictureRef {
            width: self.width,
            height: self.height,
            pixels,
        }
    }
}

impl std::fmt::Debug for Picture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Picture({}x{} {:?})",
            self.width, self.height, self.format
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_catches_short_planes_and_bad_strides() {
        let buf = vec![0u8; 10 * 3 * 4];
        assert!(PictureRef::bgr(10, 4, &buf).check().is_ok());
        assert!(matches!(
            PictureRef::bgr(10, 5, &buf).check(),
            Err(PictureError::Short { need: 150, .. })
        ));
        let bad_stride = PictureRef {
            width: 10,
            height: 2,
            pixels: Pixels::Bgr(Plane {
                data: &buf,
                stride: 20,
            }),
        };
        assert!(matches!(
            bad_stride.check(),
            Err(PictureError::Stride { .. })
        ));
        // The last row need not be padded to the full stride.
        let last_row_short = PictureRef {
            width: 10,
            height: 3,
            pixels: Pixels::Bgr(Plane {
                data: &buf[..40 * 2 + 30],
                stride: 40,
            }),
        };
        assert!(last_row_short.check().is_ok());
        assert!(PictureRef::bgr(0, 3, &buf).check().is_err());

        // 5x3 I420: chroma planes are 3x2 (rounded up); a short V plane is named.
        let (y, u, v) = (vec![0u8; 15], vec![0u8; 6], vec![0u8; 5]);
        fn plane(data: &[u8], stride: usize) -> Plane<'_> {
            Plane { data, stride }
        }
        let mut pic = PictureRef {
            width: 5,
            height: 3,
            pixels: Pixels::I420 {
                y: plane(&y, 5),
                u: plane(&u, 3),
                v: plane(&v, 3),
                colorimetry: Colorimetry::default(),
            },
        };
        let err = pic.check().unwrap_err();
        assert!(
            matches!(
                err,
                PictureError::Short {
                    plane: 2,
                    need: 6,
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("plane 2"), "{err}");
        let v6 = vec![0u8; 6];
        if let Pixels::I420 { v, .. } = &mut pic.pixels {
            *v = plane(&v6, 3);
        }
        pic.check().unwrap();
    }

    #[test]
    fn bt601_limited_coefficients_are_the_textbook_ones() {
        let c = Colorimetry::default().to_rgb();
        assert!((c.y - 1.164).abs() < 1e-3);
        assert!((c.rv - 1.596).abs() < 1e-3);
        assert!((c.gu - 0.392).abs() < 1e-3);
        assert!((c.gv - 0.813).abs() < 1e-3);
        assert!((c.bu - 2.017).abs() < 1e-3);
        let hd = Colorimetry {
            matrix: YuvMatrix::Bt709,
            range: YuvRange::Limited,
        }
        .to_rgb();
        assert!((hd.rv - 1.793).abs() < 1e-3);
        assert!((hd.bu - 2.112).abs() < 1e-3);
        assert_eq!(Colorimetry::default().luma(16), 0.0);
        assert_eq!(Colorimetry::default().luma(235), 255.0);
        let t = Colorimetry::default().luma_table();
        assert_eq!((t[0], t[16], t[126], t[235], t[255]), (0, 0, 128, 255, 255));
    }

    #[test]
    fn owned_pictures_view_their_planes() {
        let y = Bytes::from(vec![1u8; 8 * 2]);
        let u = Bytes::from(vec![2u8; 4]);
        let v = Bytes::from(vec![3u8; 4]);
        let p = Picture::i420(4, 2, [(y, 8), (u, 2), (v, 2)], Colorimetry::default());
        let view = p.view();
        view.check().unwrap();
        assert_eq!(view.format(), PixelFormat::I420);
        let Pixels::I420 { y, v, .. } = view.pixels else {
            panic!("not I420")
        };
        assert_eq!(y.row(1, 4), &[1, 1, 1, 1]);
        assert_eq!(v.row(0, 2), &[3, 3]);
        assert_eq!(p.byte_len(), 24);

        // Mid-grey-ish luma with neutral chroma converts to grey BGR.
        let grey = Picture::i420(
            4,
            2,
            [
                (Bytes::from(vec![126u8; 8]), 4),
                (Bytes::from(vec![128u8; 2]), 2),
                (Bytes::from(vec![128u8; 2]), 2),
            ],
            Colorimetry::default(),
        );
        let bgr = grey.view().to_bgr();
        assert_eq!(bgr.len(), 4 * 2 * 3);
        assert!(bgr.iter().all(|&b| b == 128), "{bgr:?}");
    }
}
