//! Window and batch planning for recording, as pure functions of the
//! sequence lengths: which consecutive sequences make one chunk, and how a
//! chunk's sequences are grouped into model runs.

/// The end (exclusive) of the window of consecutive sequences that starts
/// at `start`: sequences are added until the window holds `chunk_target`
/// rows, with at least one sequence, and it stops before a sequence longer
/// than `segment` when the model carries state (such a sequence runs alone,
/// in pieces, and the caller runs it before planning the next window).
/// `lengths[i]` is sequence `i`'s number of steps.
pub(crate) fn window_end(
    lengths: &[usize],
    start: usize,
    chunk_target: usize,
    carries: bool,
    segment: usize,
) -> usize {
    let mut end = start;
    let mut rows = 0usize;
    while end < lengths.len()
        && (end == start || rows < chunk_target)
        && !(end > start && carries && lengths[end] > segment)
    {
        rows += lengths[end];
        end += 1;
    }
    end
}

/// Groups a window's sequences (indices into `lengths`) into batches of at
/// most `batch_size`, shortest first (ties by index). A model that is not
/// causal only batches sequences of equal length together, since padding
/// would change what it computes; a causal one pads at the end, which does
/// not reach earlier steps.
pub(crate) fn batches(lengths: &[usize], batch_size: usize, causal: bool) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..lengths.len()).collect();
    order.sort_by_key(|&i| (lengths[i], i));
    let mut out: Vec<Vec<usize>> = Vec::new();
    for i in order {
        let fits = out.last().is_some_and(|b: &Vec<usize>| {
            b.len() < batch_size && (causal || lengths[b[0]] == lengths[i])
        });
        match out.last_mut() {
            Some(b) if fits => b.push(i),
            _ => out.push(vec![i]),
        }
    }
    out
}

/// One buffer of `sizes[i]` floats per layer, reusing `spare` buffers in
/// order. Contents are not cleared: the caller writes every value.
pub(crate) fn reuse_buffers(spare: Vec<Vec<f32>>, sizes: &[usize]) -> Vec<Vec<f32>> {
    let mut spare = spare.into_iter();
    sizes
        .iter()
        .map(|&n| match spare.next() {
            Some(mut b) => {
                if b.len() >= n {
                    b.truncate(n);
                } else {
                    b.resize(n, 0.0);
                }
                b
            }
            None => vec![0f32; n],
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_fill_to_the_chunk_size_with_at_least_one_sequence() {
        let l = [3, 3, 3, 10, 2];
        assert_eq!(window_end(&l, 0, 6, false, 100), 2);
        assert_eq!(window_end(&l, 0, 7, false, 100), 3);
        // One sequence larger than the target still makes a window.
        assert_eq!(window_end(&l, 3, 4, false, 100), 4);
        assert_eq!(window_end(&l, 4, 100, false, 100), 5);
        assert_eq!(window_end(&l, 5, 100, false, 100), 5);
    }

    #[test]
    fn a_window_stops_before_a_sequence_that_runs_in_pieces() {
        let l = [3, 3, 10, 2];
        assert_eq!(window_end(&l, 0, 100, true, 5), 2);
        // The caller runs that sequence in pieces; the next window follows it.
        assert_eq!(window_end(&l, 3, 100, true, 5), 4);
        // Without state, nothing runs in pieces.
        assert_eq!(window_end(&l, 0, 100, false, 5), 4);
    }

    #[test]
    fn batches_are_shortest_first_capped_and_equal_length_unless_causal() {
        let l = [5, 3, 5, 3, 4];
        assert_eq!(batches(&l, 2, true), vec![vec![1, 3], vec![4, 0], vec![2]]);
        assert_eq!(batches(&l, 8, false), vec![vec![1, 3], vec![4], vec![0, 2]]);
        assert_eq!(batches(&l, 1, true).len(), 5);
        let all: Vec<usize> = {
            let mut v: Vec<usize> = batches(&l, 3, false).concat();
            v.sort();
            v
        };
        assert_eq!(all, vec![0, 1, 2, 3, 4]);
        assert!(batches(&[], 4, true).is_empty());
    }

    #[test]
    fn buffers_are_reused_in_order_and_sized() {
        let spare = vec![vec![1.0; 10], vec![2.0; 2]];
        let b = reuse_buffers(spare, &[4, 6, 3]);
        assert_eq!(b.iter().map(Vec::len).collect::<Vec<_>>(), [4, 6, 3]);
        assert_eq!(b[0], vec![1.0; 4]);
        assert_eq!(&b[1][..2], &[2.0, 2.0]);
        assert_eq!(b[2], vec![0.0; 3]);
    }
}
