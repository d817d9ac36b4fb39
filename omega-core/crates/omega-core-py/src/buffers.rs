//! Results out to Python without an Arrow or NumPy crate: numbers become `bytes` (or a `bytearray`
//! when the array must stay writable) that `numpy.frombuffer` views without copying, and tables
//! become their Arrow buffers (validity bitmap, offsets, values) that `omega._buffers
//! .table_from_buffers` wraps into a `pyarrow.Table`. Values are written in native byte order,
//! which is what both NumPy's `float64`/`int64` and Arrow's buffers expect.

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyByteArray, PyBytes};

/// A Python function the bindings call on every run, imported once (an import per call is a
/// measurable share of a small run's fixed cost, docs/performance.md).
pub fn python_function<'py>(
    py: Python<'py>,
    cell: &'static PyOnceLock<Py<PyAny>>,
    module: &str,
    name: &str,
) -> PyResult<&'py Bound<'py, PyAny>> {
    cell.import(py, module, name)
}

/// A fixed-width value that can be written into a byte buffer.
pub trait Element: Copy {
    const SIZE: usize;
    /// NumPy dtype name, also the column kind `omega._buffers.table_from_buffers` reads.
    const DTYPE: &'static str;
    fn write(self, out: &mut [u8]);
}

impl Element for f64 {
    const SIZE: usize = 8;
    const DTYPE: &'static str = "float64";
    fn write(self, out: &mut [u8]) {
        out.copy_from_slice(&self.to_ne_bytes());
    }
}

impl Element for i64 {
    const SIZE: usize = 8;
    const DTYPE: &'static str = "int64";
    fn write(self, out: &mut [u8]) {
        out.copy_from_slice(&self.to_ne_bytes());
    }
}

impl Element for i32 {
    const SIZE: usize = 4;
    const DTYPE: &'static str = "int32";
    fn write(self, out: &mut [u8]) {
        out.copy_from_slice(&self.to_ne_bytes());
    }
}

fn fill<T: Element>(values: &[T], out: &mut [u8]) {
    for (chunk, v) in out.chunks_exact_mut(T::SIZE).zip(values) {
        v.write(chunk);
    }
}

/// `values` as immutable `bytes`.
pub fn to_bytes<'py, T: Element>(py: Python<'py>, values: &[T]) -> PyResult<Bound<'py, PyBytes>> {
    PyBytes::new_with(py, values.len() * T::SIZE, |out| {
        fill(values, out);
        Ok(())
    })
}

/// A NumPy array over a copy of `values`: read-only (over `bytes`) or writable (over a `bytearray`).
pub fn numpy_array<'py, T: Element>(py: Python<'py>, values: &[T], writable: bool) -> PyResult<Bound<'py, PyAny>> {
    static FROMBUFFER: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    let frombuffer = python_function(py, &FROMBUFFER, "numpy", "frombuffer")?;
    if writable {
        let buf = PyByteArray::new_with(py, values.len() * T::SIZE, |out| {
            fill(values, out);
            Ok(())
        })?;
        frombuffer.call1((buf, T::DTYPE))
    } else {
        frombuffer.call1((to_bytes(py, values)?, T::DTYPE))
    }
}

/// Arrow validity bitmap (bit i set = row i valid, least significant bit first), or None when every
/// row is valid.
fn validity<'py>(py: Python<'py>, valid: impl ExactSizeIterator<Item = bool>) -> PyResult<Option<Bound<'py, PyBytes>>> {
    let mut bits = vec![0u8; valid.len().div_ceil(8)];
    let mut all = true;
    for (i, v) in valid.enumerate() {
        if v {
            bits[i / 8] |= 1 << (i % 8);
        } else {
            all = false;
        }
    }
    Ok(if all { None } else { Some(PyBytes::new(py, &bits)) })
}

/// i32 offsets of consecutive lengths (Arrow's `Utf8`/`List` layout: len + 1 entries, from 0).
fn offsets(lengths: impl Iterator<Item = usize>) -> PyResult<Vec<i32>> {
    let mut out = vec![0i32];
    let mut total = 0usize;
    for len in lengths {
        total += len;
        let at = i32::try_from(total)
            .map_err(|_| pyo3::exceptions::PyOverflowError::new_err("result column exceeds 2 GiB of text"))?;
        out.push(at);
    }
    Ok(out)
}

/// `(name, kind, rows, buffers)`: one column as `omega._buffers.table_from_buffers` reads it.
type ColumnBuffers<'py> = (String, &'static str, usize, Vec<Option<Bound<'py, PyBytes>>>);

/// One result table being built, column by column, in Arrow layout.
pub struct TableBuilder<'py> {
    py: Python<'py>,
    rows: usize,
    columns: Vec<ColumnBuffers<'py>>,
}

impl<'py> TableBuilder<'py> {
    /// A table of `rows` rows.
    pub fn new(py: Python<'py>, rows: usize) -> Self {
        TableBuilder { py, rows, columns: Vec::new() }
    }

    fn push(&mut self, name: impl Into<String>, kind: &'static str, buffers: Vec<Option<Bound<'py, PyBytes>>>) {
        self.columns.push((name.into(), kind, self.rows, buffers));
    }

    /// A column without nulls.
    pub fn values<T: Element>(&mut self, name: impl Into<String>, values: impl Iterator<Item = T>) -> PyResult<()> {
        let v: Vec<T> = values.collect();
        let data = to_bytes(self.py, &v)?;
        self.push(name, T::DTYPE, vec![None, Some(data)]);
        Ok(())
    }

    /// A column with nulls (`None` rows).
    pub fn optional<T: Element + Default>(
        &mut self,
        name: impl Into<String>,
        values: impl Iterator<Item = Option<T>>,
    ) -> PyResult<()> {
        let v: Vec<Option<T>> = values.collect();
        let bitmap = validity(self.py, v.iter().map(Option::is_some))?;
        let data: Vec<T> = v.iter().map(|x| x.unwrap_or_default()).collect();
        let data = to_bytes(self.py, &data)?;
        self.push(name, T::DTYPE, vec![bitmap, Some(data)]);
        Ok(())
    }

    /// A boolean column without nulls (bit-packed like the validity bitmap).
    pub fn bools(&mut self, name: impl Into<String>, values: impl ExactSizeIterator<Item = bool>) -> PyResult<()> {
        let mut bits = vec![0u8; values.len().div_ceil(8)];
        for (i, v) in values.enumerate() {
            if v {
                bits[i / 8] |= 1 << (i % 8);
            }
        }
        let data = PyBytes::new(self.py, &bits);
        self.push(name, "bool", vec![None, Some(data)]);
        Ok(())
    }

    /// A UTF-8 string column without nulls.
    pub fn strings<'a>(
        &mut self,
        name: impl Into<String>,
        values: impl Iterator<Item = &'a str> + Clone,
    ) -> PyResult<()> {
        let offs = offsets(values.clone().map(str::len))?;
        let text: String = values.collect();
        let buffers = vec![None, Some(to_bytes(self.py, &offs)?), Some(PyBytes::new(self.py, text.as_bytes()))];
        self.push(name, "utf8", buffers);
        Ok(())
    }

    /// A list-of-strings column without nulls.
    pub fn string_lists<'a>(
        &mut self,
        name: impl Into<String>,
        lists: impl Iterator<Item = &'a [String]> + Clone,
    ) -> PyResult<()> {
        let list_offs = offsets(lists.clone().map(<[String]>::len))?;
        let value_offs = offsets(lists.clone().flatten().map(String::len))?;
        let text: String = lists.flatten().map(String::as_str).collect();
        let buffers = vec![
            Some(to_bytes(self.py, &list_offs)?),
            Some(to_bytes(self.py, &value_offs)?),
            Some(PyBytes::new(self.py, text.as_bytes())),
        ];
        self.push(name, "list<utf8>", buffers);
        Ok(())
    }

    /// The `pyarrow.Table` (through `omega._buffers.table_from_buffers`).
    pub fn finish(self) -> PyResult<Bound<'py, PyAny>> {
        static BUILD: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
        let build = python_function(self.py, &BUILD, "omega._buffers", "table_from_buffers")?;
        build.call1((self.columns,))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_start_at_zero_and_accumulate() {
        assert_eq!(offsets([2usize, 0, 3].into_iter()).unwrap(), vec![0, 2, 2, 5]);
        assert_eq!(offsets(std::iter::empty()).unwrap(), vec![0]);
    }

    #[test]
    fn values_are_written_in_native_byte_order() {
        let mut out = vec![0u8; 16];
        fill(&[1.5f64, -2.0], &mut out);
        assert_eq!(&out[..8], &1.5f64.to_ne_bytes());
        assert_eq!(&out[8..], &(-2.0f64).to_ne_bytes());
        let mut out = vec![0u8; 4];
        fill(&[-7i32], &mut out);
        assert_eq!(out, (-7i32).to_ne_bytes());
    }
}
