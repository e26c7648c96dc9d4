//! Thin layer over ONNX Runtime sessions: the only place (with `runtime`)
//! that names `ort`. Everything it returns is Luigi's own types.

use std::sync::Mutex;

use ort::session::SessionInputValue;
use ort::session::{builder::GraphOptimizationLevel, RunOptions, Session};
use ort::value::{Tensor, TensorRef};

use crate::error::{Error, Result};
use crate::runtime;

/// One input tensor: owned, or borrowed from a buffer the caller reuses
/// across runs.
#[derive(Debug, Clone)]
pub(crate) enum Feed<'a> {
    /// int64 data with its shape.
    I64(Vec<i64>, Vec<i64>),
    /// float32 data with its shape.
    F32(Vec<i64>, Vec<f32>),
    /// float32 data with its shape, borrowed for the run.
    F32Ref(Vec<i64>, &'a [f32]),
}

/// One output tensor, copied out as float32.
#[derive(Debug, Clone)]
pub(crate) struct Fetched {
    pub(crate) shape: Vec<usize>,
    pub(crate) data: Vec<f32>,
}

/// An ONNX Runtime session behind a lock (`Session::run` needs `&mut`).
pub(crate) struct OrtSession {
    inner: Mutex<Session>,
    /// True when the session runs a graph cut down to its outputs
    /// ([`crate::model::graph::pruned_to_outputs`]), false for the whole graph.
    pub(crate) pruned: bool,
}

/// Number of ONNX Runtime intra-op threads: `LUIGI_ORT_THREADS`, else ORT's default.
pub(crate) fn intra_threads() -> Option<usize> {
    std::env::var("LUIGI_ORT_THREADS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|n| *n > 0)
}

impl OrtSession {
    /// Creates a session from model bytes that runs on `threads` intra-op
    /// threads (`None`: ONNX Runtime's default, one per core). With one
    /// thread a run stays on the calling thread. `what` names the model in
    /// errors.
    pub(crate) fn with_threads(
        bytes: &[u8],
        what: &str,
        threads: Option<usize>,
    ) -> Result<OrtSession> {
        let rt = runtime::runtime()?;
        let ctx = || format!("creating a session for {what}");
        let mut builder = Session::builder(&rt.env).map_err(|e| Error::ort(ctx(), e))?;
        builder = builder
            .with_optimization_level(GraphOptimizationLevel::All)
            .map_err(|e| Error::ort(ctx(), e))?;
        if let Some(n) = threads {
            builder = builder
                .with_intra_threads(n)
                .map_err(|e| Error::ort(ctx(), e))?;
        }
        let session = builder
            .commit_from_memory(bytes)
            .map_err(|e| Error::ort(format!("loading {what}"), e))?;
        Ok(OrtSession {
            inner: Mutex::new(session),
            pruned: false,
        })
    }

    /// Runs the session on `inputs` and returns copies of the named outputs, in order.
    pub(crate) fn run(
        &self,
        inputs: Vec<(String, Feed<'_>)>,
        outputs: &[String],
    ) -> Result<Vec<Fetched>> {
        let mut fetched = Vec::with_capacity(outputs.len());
        self.run_with(inputs, outputs, |_, shape, data| {
            fetched.push(Fetched {
                shape: shape.to_vec(),
                data: data.to_vec(),
            });
            Ok(())
        })?;
        Ok(fetched)
    }

    /// Runs the session on `inputs` and hands each named output, in order,
    /// to `read(index, shape, data)` without copying it.
    pub(crate) fn run_with<F>(
        &self,
        inputs: Vec<(String, Feed<'_>)>,
        outputs: &[String],
        mut read: F,
    ) -> Result<()>
    where
        F: FnMut(usize, &[usize], &[f32]) -> Result<()>,
    {
        let mut values: Vec<(String, SessionInputValue<'_>)> = Vec::with_capacity(inputs.len());
        for (name, feed) in inputs {
            let err = |e: ort::Error| Error::ort(format!("building input `{name}`"), e);
            let v: SessionInputValue<'_> = match feed {
                Feed::I64(shape, data) => Tensor::from_array((shape, data)).map_err(err)?.into(),
                Feed::F32(shape, data) => Tensor::from_array((shape, data)).map_err(err)?.into(),
                Feed::F32Ref(shape, data) => TensorRef::from_array_view((shape, data))
                    .map_err(err)?
                    .into(),
            };
            values.push((name, v));
        }
        let mut selector = ort::session::OutputSelector::no_default();
        for o in outputs {
            selector = selector.with(o.clone());
        }
        let options = RunOptions::new()
            .map_err(|e| Error::ort("creating run options", e))?
            .with_outputs(selector);
        let mut session = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let result = session
            .run_with_options(values, &options)
            .map_err(|e| Error::ort("running the model", e))?;
        for (i, o) in outputs.iter().enumerate() {
            let value = result.get(o.as_str()).ok_or_else(|| Error::Ort {
                context: "reading outputs".to_string(),
                message: format!("ONNX Runtime returned no tensor `{o}`"),
            })?;
            let (shape, data) = value.try_extract_tensor::<f32>().map_err(|e| Error::Ort {
                context: format!("reading tensor `{o}`"),
                message: format!("{e} (Luigi records float32 tensors only)"),
            })?;
            let shape: Vec<usize> = shape.iter().map(|d| (*d).max(0) as usize).collect();
            read(i, &shape, data)?;
        }
        Ok(())
    }
}
