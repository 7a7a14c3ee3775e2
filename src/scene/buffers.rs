//! Binary data of a glTF file: buffers (GLB chunk, `data:` URIs, external files), and
//! bounds-checked accessor reads. Nothing here trusts an offset or length from the file.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use gltf::accessor::{DataType, Dimensions};
use gltf::{Accessor, Document};

use super::error::SceneError;
use super::limits::{bytes_of, Budget};
use super::uri::UriResolver;

/// Loads every buffer of `doc`; `blob` is the GLB `BIN` chunk, if any. `file`
/// names the scene in messages.
pub(crate) fn load_buffers(
    doc: &Document,
    mut blob: Option<Vec<u8>>,
    file: &Path,
    uris: &UriResolver,
    budget: &Budget,
) -> Result<Vec<Vec<u8>>, SceneError> {
    doc.buffers()
        .map(|buffer| {
            let i = buffer.index();
            let (field, data) = match buffer.source() {
                gltf::buffer::Source::Bin => {
                    let field = format!("buffers[{i}]");
                    let data = blob.take().ok_or_else(|| {
                        SceneError::field(file, &field, "refers to the GLB binary chunk, but the file has none")
                    })?;
                    (field, data)
                }
                gltf::buffer::Source::Uri(uri) => {
                    let field = format!("buffers[{i}].uri");
                    let data = uris
                        .resolve(uri)
                        .and_then(|source| uris.read(&source, budget))
                        .map_err(|m| SceneError::field(file, &field, format!("\"{}\": {m}", short_uri(uri))))?;
                    (field, data)
                }
            };
            if data.len() < buffer.length() {
                let message = format!("holds {} bytes, less than its byteLength {}", data.len(), buffer.length());
                return Err(SceneError::field(file, field, message));
            }
            Ok(data)
        })
        .collect()
}

/// A URI short enough for an error message (data URIs are cut).
pub(crate) fn short_uri(uri: &str) -> String {
    match uri.starts_with("data:") {
        true => format!("{}…", uri.chars().take(32).collect::<String>()),
        false => uri.to_string(),
    }
}

/// Bounds-checked reads of accessors and buffer views, with a cache so that
/// accessors shared by many primitives are decoded once.
pub(crate) struct BufferData<'a> {
    pub doc: &'a Document,
    pub buffers: &'a [Vec<u8>],
    /// The scene file as messages name it.
    pub file: &'a Path,
    pub uris: &'a UriResolver,
    /// Every decoded accessor is charged here before it is allocated.
    pub budget: &'a Budget,
    floats: RefCell<HashMap<usize, Arc<Vec<f32>>>>,
    indices: RefCell<HashMap<usize, Arc<Vec<u32>>>>,
}

/// The byte slice of a buffer view and where elements sit in it.
struct Elements<'b> {
    bytes: &'b [u8],
    offset: usize,
    stride: usize,
}

impl<'a> BufferData<'a> {
    pub fn new(
        doc: &'a Document,
        buffers: &'a [Vec<u8>],
        file: &'a Path,
        uris: &'a UriResolver,
        budget: &'a Budget,
    ) -> Self {
        Self { doc, buffers, file, uris, budget, floats: Default::default(), indices: Default::default() }
    }

    /// Charges `bytes` for `field`, or fails naming it.
    pub fn charge(&self, field: &str, bytes: u64, what: impl FnOnce() -> String) -> Result<(), SceneError> {
        self.budget.charge(bytes, what).map_err(|m| self.error(field, m))
    }

    fn error(&self, field: &str, message: String) -> SceneError {
        SceneError::field(self.file, field, message)
    }

    /// The bytes of a buffer view, checked against its buffer.
    pub fn view_bytes(&self, view: &gltf::buffer::View, field: &str) -> Result<&'a [u8], SceneError> {
        let buffer = &self.buffers[view.buffer().index()];
        let end = view.offset().checked_add(view.length()).filter(|&end| end <= buffer.len());
        match end {
            Some(end) => Ok(&buffer[view.offset()..end]),
            None => Err(self.error(
                field,
                format!(
                    "bufferViews[{}] (bytes {}..{}+{}) lies outside buffers[{}] ({} bytes)",
                    view.index(),
                    view.offset(),
                    view.offset(),
                    view.length(),
                    view.buffer().index(),
                    buffer.len()
                ),
            )),
        }
    }

    /// Locates `count` elements of `elem` bytes at `offset` in `view`.
    fn elements(
        &self,
        view: &gltf::buffer::View,
        offset: usize,
        count: usize,
        elem: usize,
        field: &str,
        what: &str,
    ) -> Result<Elements<'a>, SceneError> {
        let bytes = self.view_bytes(view, field)?;
        let stride = view.stride().unwrap_or(elem).max(elem);
        let end = match count {
            0 => Some(offset),
            n => (n - 1).checked_mul(stride).and_then(|s| s.checked_add(offset)).and_then(|s| s.checked_add(elem)),
        };
        match end {
            Some(end) if end <= bytes.len() => Ok(Elements { bytes, offset, stride }),
            _ => Err(self.error(
                field,
                format!(
                    "{what}: {count} elements of {elem} bytes (stride {stride}) from byte {offset} run past the end of \
                     bufferViews[{}] ({} bytes)",
                    view.index(),
                    bytes.len()
                ),
            )),
        }
    }

    /// Decodes `acc` component by component (dense data, then sparse substitutions).
    fn read<T: Copy + Default>(
        &self,
        acc: &Accessor,
        field: &str,
        decode: impl Fn(&[u8]) -> T,
    ) -> Result<Vec<T>, SceneError> {
        let what = format!("accessors[{}]", acc.index());
        let dims = acc.dimensions().multiplicity();
        let csize = acc.data_type().size();
        let (count, elem) = (acc.count(), dims * csize);
        // Indices are u32 in the flat layout, so larger accessors cannot be rendered anyway.
        if count > u32::MAX as usize {
            return Err(self.error(field, format!("{what}: count {count} is too large")));
        }
        // The data must be present before anything sized by `count` is allocated.
        let dense = acc.view().map(|view| self.elements(&view, acc.offset(), count, elem, field, &what)).transpose()?;
        let bytes = bytes_of(count as u64, dims * size_of::<T>());
        self.charge(field, bytes, || format!("{what}: {count} elements of {dims} components decode to"))?;
        let mut out = vec![T::default(); count * dims];
        if let Some(el) = dense {
            for (i, item) in out.chunks_exact_mut(dims).enumerate() {
                let base = el.offset + i * el.stride;
                for (c, value) in item.iter_mut().enumerate() {
                    *value = decode(&el.bytes[base + c * csize..]);
                }
            }
        }
        if let Some(sparse) = acc.sparse() {
            let n = sparse.count();
            let idx = sparse.indices();
            let isize = idx.index_type().size();
            let what_i = format!("{what}.sparse.indices");
            let ie = self.elements(&idx.view(), idx.offset(), n, isize, field, &what_i)?;
            let values = sparse.values();
            let ve =
                self.elements(&values.view(), values.offset(), n, elem, field, &format!("{what}.sparse.values"))?;
            for k in 0..n {
                let at = &ie.bytes[ie.offset + k * ie.stride..];
                let target = read_index(idx.index_type(), at) as usize;
                if target >= count {
                    return Err(
                        self.error(field, format!("{what_i}[{k}] is out of range of the accessor's {count} elements"))
                    );
                }
                let base = ve.offset + k * ve.stride;
                for c in 0..dims {
                    out[target * dims + c] = decode(&ve.bytes[base + c * csize..]);
                }
            }
        }
        Ok(out)
    }

    /// Reads a float (or normalised integer) accessor of the given type; every value
    /// must be finite.
    pub fn floats(&self, acc: &Accessor, expect: &[Dimensions], field: &str) -> Result<Arc<Vec<f32>>, SceneError> {
        if let Some(cached) = self.floats.borrow().get(&acc.index()) {
            return Ok(cached.clone());
        }
        if !expect.contains(&acc.dimensions()) {
            let message = format!("accessors[{}] has type {:?}, expected {:?}", acc.index(), acc.dimensions(), expect);
            return Err(self.error(field, message));
        }
        let (ty, norm) = (acc.data_type(), acc.normalized());
        let values = self.read(acc, field, |b| decode_float(ty, norm, b))?;
        let dims = acc.dimensions().multiplicity();
        if let Some(bad) = values.iter().position(|v| !v.is_finite()) {
            let message = format!("accessors[{}] element {} has a non-finite value", acc.index(), bad / dims);
            return Err(self.error(field, message));
        }
        let values = Arc::new(values);
        self.floats.borrow_mut().insert(acc.index(), values.clone());
        Ok(values)
    }

    /// Reads an index accessor (scalar u8/u16/u32).
    pub fn indices(&self, acc: &Accessor, field: &str) -> Result<Arc<Vec<u32>>, SceneError> {
        if let Some(cached) = self.indices.borrow().get(&acc.index()) {
            return Ok(cached.clone());
        }
        let ty = acc.data_type();
        if acc.dimensions() != Dimensions::Scalar || !matches!(ty, DataType::U8 | DataType::U16 | DataType::U32) {
            let message = format!(
                "accessors[{}] is {:?} {:?}; indices must be scalar u8, u16 or u32",
                acc.index(),
                acc.dimensions(),
                ty
            );
            return Err(self.error(field, message));
        }
        let values = Arc::new(self.read(acc, field, |b| read_index_of(ty, b))?);
        self.indices.borrow_mut().insert(acc.index(), values.clone());
        Ok(values)
    }

    /// Reads a JOINTS_n accessor (VEC4 of u8 or u16 joint indices).
    pub fn joints(&self, acc: &Accessor, field: &str) -> Result<Vec<u32>, SceneError> {
        let ty = acc.data_type();
        if acc.dimensions() != Dimensions::Vec4 || !matches!(ty, DataType::U8 | DataType::U16) {
            let message =
                format!("accessors[{}] is {:?} {:?}; joints must be VEC4 u8 or u16", acc.index(), acc.dimensions(), ty);
            return Err(self.error(field, message));
        }
        self.read(acc, field, |b| read_index_of(ty, b))
    }

    /// The accessor with index `i`, or an error naming `field`.
    pub fn accessor(&self, i: usize, field: &str) -> Result<Accessor<'a>, SceneError> {
        self.doc.accessors().nth(i).ok_or_else(|| {
            self.error(field, format!("accessor index {i} is out of range ({} accessors)", self.doc.accessors().len()))
        })
    }
}

fn read_index(ty: gltf::accessor::sparse::IndexType, b: &[u8]) -> u32 {
    use gltf::accessor::sparse::IndexType;
    match ty {
        IndexType::U8 => b[0] as u32,
        IndexType::U16 => u16::from_le_bytes([b[0], b[1]]) as u32,
        IndexType::U32 => u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
    }
}

fn read_index_of(ty: DataType, b: &[u8]) -> u32 {
    match ty {
        DataType::U8 => b[0] as u32,
        DataType::U16 => u16::from_le_bytes([b[0], b[1]]) as u32,
        _ => u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
    }
}

/// One component as f32; normalised integers map to [0, 1] or [-1, 1] (glTF rules).
fn decode_float(ty: DataType, normalized: bool, b: &[u8]) -> f32 {
    let (value, scale) = match ty {
        DataType::F32 => return f32::from_le_bytes([b[0], b[1], b[2], b[3]]),
        DataType::U8 => (b[0] as f32, 255.0),
        DataType::I8 => (b[0] as i8 as f32, 127.0),
        DataType::U16 => (u16::from_le_bytes([b[0], b[1]]) as f32, 65535.0),
        DataType::I16 => (i16::from_le_bytes([b[0], b[1]]) as f32, 32767.0),
        DataType::U32 => (u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f32, u32::MAX as f32),
    };
    if normalized {
        (value / scale).max(-1.0)
    } else {
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalised_integers_follow_gltf() {
        assert_eq!(decode_float(DataType::U8, true, &[255]), 1.0);
        assert_eq!(decode_float(DataType::I8, true, &[0x80]), -1.0);
        assert_eq!(decode_float(DataType::I16, true, &0x7fffi16.to_le_bytes()), 1.0);
        assert_eq!(decode_float(DataType::U16, false, &7u16.to_le_bytes()), 7.0);
    }
}
