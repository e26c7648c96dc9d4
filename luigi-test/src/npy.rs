//! A small writer (and reader, for tests and round trips) of NumPy `.npy`
//! files (format version 1.0, little-endian, C order), so numpy users can
//! check every number Luigi records: `np.load("lstm.npy")`.

use std::io::{Read, Write};
use std::path::Path;

use crate::error::{Error, Result};

/// Element types Luigi writes.
pub trait NpyElement: Copy {
    /// The numpy dtype descriptor, e.g. `<f4`.
    const DESCR: &'static str;
    /// Appends the little-endian bytes of `self`.
    fn put(self, out: &mut Vec<u8>);
    /// Reads one value from 8 or fewer little-endian bytes.
    fn get(bytes: &[u8]) -> Self;
    /// Size in bytes.
    const SIZE: usize;
}

macro_rules! npy_elem {
    ($t:ty, $d:expr) => {
        impl NpyElement for $t {
            const DESCR: &'static str = $d;
            const SIZE: usize = std::mem::size_of::<$t>();
            fn put(self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }
            fn get(bytes: &[u8]) -> Self {
                let mut b = [0u8; std::mem::size_of::<$t>()];
                b.copy_from_slice(&bytes[..std::mem::size_of::<$t>()]);
                <$t>::from_le_bytes(b)
            }
        }
    };
}
npy_elem!(f32, "<f4");
npy_elem!(f64, "<f8");
npy_elem!(i64, "<i8");
npy_elem!(u32, "<u4");

fn header(descr: &str, shape: &[usize]) -> Vec<u8> {
    let shape_txt = match shape.len() {
        1 => format!("({},)", shape[0]),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut dict =
        format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape_txt}, }}");
    // magic(6) + version(2) + len(2) + dict + '\n' must be a multiple of 64.
    let total = 10 + dict.len() + 1;
    let pad = (64 - total % 64) % 64;
    dict.push_str(&" ".repeat(pad));
    dict.push('\n');
    let mut out = Vec::with_capacity(10 + dict.len());
    out.extend_from_slice(b"\x93NUMPY\x01\x00");
    out.extend_from_slice(&(dict.len() as u16).to_le_bytes());
    out.extend_from_slice(dict.as_bytes());
    out
}

/// Writes `data` (C order) with `shape` to `path`.
pub fn write<T: NpyElement>(path: &Path, shape: &[usize], data: &[T]) -> Result<()> {
    let expected: usize = shape.iter().product();
    if expected != data.len() {
        return Err(Error::invalid(
            format!("writing {}", path.display()),
            format!(
                "shape {shape:?} holds {expected} values but {} were given",
                data.len()
            ),
        ));
    }
    let mut bytes = header(T::DESCR, shape);
    bytes.reserve(data.len() * T::SIZE);
    for v in data {
        v.put(&mut bytes);
    }
    let mut f = std::fs::File::create(path).map_err(|e| Error::io(path, e))?;
    f.write_all(&bytes).map_err(|e| Error::io(path, e))?;
    Ok(())
}

/// Writes a 2-D array.
pub fn write_array2<T: NpyElement>(path: &Path, a: &ndarray::Array2<T>) -> Result<()> {
    let std = a.as_standard_layout();
    let slice = std
        .as_slice()
        .ok_or_else(|| Error::invalid("npy::write_array2", "array is not contiguous"))?;
    write(path, &[a.nrows(), a.ncols()], slice)
}

/// Reads an `.npy` file written in C order with dtype `T`; returns the shape and data.
pub fn read<T: NpyElement>(path: &Path) -> Result<(Vec<usize>, Vec<T>)> {
    let mut f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut bytes = Vec::new();
    f.read_to_end(&mut bytes).map_err(|e| Error::io(path, e))?;
    let bad = |m: &str| Error::invalid(format!("reading {}", path.display()), m.to_string());
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err(bad("not an .npy file (no \\x93NUMPY magic)"));
    }
    let (hlen, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10usize),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
        _ => return Err(bad("unsupported .npy version")),
    };
    let end = start
        .checked_add(hlen)
        .filter(|e| *e <= bytes.len())
        .ok_or_else(|| bad("header runs past the end of the file"))?;
    let dict = String::from_utf8_lossy(&bytes[start..end]).to_string();
    if !dict.contains(&format!("'descr': '{}'", T::DESCR)) {
        return Err(bad(&format!("dtype is not {}: header {dict}", T::DESCR)));
    }
    if dict.contains("'fortran_order': True") {
        return Err(bad("Fortran-order arrays are not supported"));
    }
    let shape_txt = dict
        .split("'shape': (")
        .nth(1)
        .and_then(|s| s.split(')').next())
        .ok_or_else(|| bad("header has no shape"))?;
    let shape: Vec<usize> = shape_txt
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<usize>().map_err(|_| bad("bad shape in header")))
        .collect::<Result<_>>()?;
    let n: usize = shape.iter().product();
    let body = &bytes[end..];
    if body.len() != n * T::SIZE {
        return Err(bad(&format!(
            "shape {shape:?} needs {} bytes of data, file has {}",
            n * T::SIZE,
            body.len()
        )));
    }
    let data = body.chunks_exact(T::SIZE).map(T::get).collect();
    Ok((shape, data))
}

/// Writes an `.npy` file piece by piece when the shape is known up front
/// (e.g. a recording streamed chunk by chunk).
pub struct StreamWriter {
    path: std::path::PathBuf,
    file: std::io::BufWriter<std::fs::File>,
    remaining: usize,
}

impl StreamWriter {
    /// Creates the file and writes the header for `shape` of element type `T`.
    pub fn create<T: NpyElement>(path: &Path, shape: &[usize]) -> Result<StreamWriter> {
        let f = std::fs::File::create(path).map_err(|e| Error::io(path, e))?;
        let mut file = std::io::BufWriter::new(f);
        file.write_all(&header(T::DESCR, shape))
            .map_err(|e| Error::io(path, e))?;
        Ok(StreamWriter {
            path: path.to_path_buf(),
            file,
            remaining: shape.iter().product(),
        })
    }

    /// Appends values (C order).
    pub fn append<T: NpyElement>(&mut self, data: &[T]) -> Result<()> {
        if data.len() > self.remaining {
            return Err(Error::invalid(
                format!("writing {}", self.path.display()),
                "more values than the declared shape holds",
            ));
        }
        let mut bytes = Vec::with_capacity(data.len() * T::SIZE);
        for v in data {
            v.put(&mut bytes);
        }
        self.file
            .write_all(&bytes)
            .map_err(|e| Error::io(&self.path, e))?;
        self.remaining -= data.len();
        Ok(())
    }

    /// Flushes and checks that the declared shape was filled.
    pub fn finish(mut self) -> Result<()> {
        self.file.flush().map_err(|e| Error::io(&self.path, e))?;
        if self.remaining != 0 {
            return Err(Error::invalid(
                format!("writing {}", self.path.display()),
                format!("{} values short of the declared shape", self.remaining),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_alignment() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("a.npy");
        write(&p, &[2, 3], &[1.0f32, 2.0, 3.0, 4.0, 5.0, 6.5]).unwrap();
        let bytes = std::fs::read(&p).unwrap();
        let hlen = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
        assert_eq!((10 + hlen) % 64, 0);
        let (shape, data) = read::<f32>(&p).unwrap();
        assert_eq!(shape, vec![2, 3]);
        assert_eq!(data[5], 6.5);
        assert!(read::<i64>(&p).is_err());
        assert!(write(&p, &[2, 2], &[1.0f32]).is_err());
    }
}
