//! Shapes of tape values and NumPy-style broadcasting.

use std::fmt;

/// The largest number of dimensions a value may have (batch dims of nested plates
/// plus an event dimension).
pub const MAX_DIMS: usize = 4;

/// The shape of a value on the tape: up to [`MAX_DIMS`] dimensions, row-major.
/// A scalar has no dimensions and one element.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Shape {
    dims: [usize; MAX_DIMS],
    ndim: u8,
}

impl Shape {
    /// The shape of a scalar.
    pub const SCALAR: Shape = Shape {
        dims: [0; MAX_DIMS],
        ndim: 0,
    };

    /// A shape from its dimensions; `None` for more than [`MAX_DIMS`] of them.
    pub fn new(dims: &[usize]) -> Option<Shape> {
        if dims.len() > MAX_DIMS {
            return None;
        }
        let mut d = [0; MAX_DIMS];
        d[..dims.len()].copy_from_slice(dims);
        Some(Shape {
            dims: d,
            ndim: dims.len() as u8,
        })
    }

    /// A vector of `n` elements.
    pub fn vector(n: usize) -> Shape {
        Shape {
            dims: [n, 0, 0, 0],
            ndim: 1,
        }
    }

    /// A `rows × cols` matrix.
    pub fn matrix(rows: usize, cols: usize) -> Shape {
        Shape {
            dims: [rows, cols, 0, 0],
            ndim: 2,
        }
    }

    /// The dimensions.
    pub fn dims(&self) -> &[usize] {
        &self.dims[..self.ndim as usize]
    }

    /// Number of dimensions.
    pub fn ndim(&self) -> usize {
        self.ndim as usize
    }

    /// Number of elements (1 for a scalar).
    pub fn len(&self) -> usize {
        self.dims().iter().product()
    }

    /// Whether the shape has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The NumPy broadcast of two shapes, or `None` when they are incompatible.
    pub fn broadcast(a: Shape, b: Shape) -> Option<Shape> {
        let n = a.ndim().max(b.ndim());
        let mut out = [0; MAX_DIMS];
        for k in 0..n {
            let da = if k < a.ndim() {
                a.dims[a.ndim() - 1 - k]
            } else {
                1
            };
            let db = if k < b.ndim() {
                b.dims[b.ndim() - 1 - k]
            } else {
                1
            };
            out[n - 1 - k] = match (da, db) {
                (x, y) if x == y => x,
                (1, y) => y,
                (x, 1) => x,
                _ => return None,
            };
        }
        Some(Shape {
            dims: out,
            ndim: n as u8,
        })
    }

    /// The shape without its first dimension (a row of a matrix); scalar stays scalar.
    pub fn tail(&self) -> Shape {
        if self.ndim == 0 {
            return *self;
        }
        Shape::new(&self.dims()[1..]).unwrap_or(Shape::SCALAR)
    }

    /// This shape with a new leading dimension of size `n`.
    pub fn prepend(&self, n: usize) -> Option<Shape> {
        let mut d = vec![n];
        d.extend_from_slice(self.dims());
        Shape::new(&d)
    }
}

impl fmt::Debug for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.dims())
    }
}

impl From<Shape> for Vec<usize> {
    fn from(s: Shape) -> Vec<usize> {
        s.dims().to_vec()
    }
}

/// How an input of one shape is read when broadcast to an output shape.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Broadcast {
    /// Same number of elements, read element `i` for output `i`.
    Same,
    /// A single element, read for every output.
    Scalar,
    /// General NumPy broadcasting: strides of the input per output dimension
    /// (0 where the input is broadcast).
    Strided {
        out: Shape,
        strides: [usize; MAX_DIMS],
    },
}

impl Broadcast {
    /// The mapping from `out` indices to `input` indices. `input` must broadcast to `out`.
    pub(crate) fn new(input: Shape, out: Shape) -> Broadcast {
        let n_in = input.len();
        if n_in == 1 {
            return Broadcast::Scalar;
        }
        if input.dims() == out.dims() || (input.ndim() <= out.ndim() && n_in == out.len()) {
            return Broadcast::Same;
        }
        let mut strides = [0; MAX_DIMS];
        let mut stride = 1;
        let off = out.ndim() - input.ndim();
        for k in (0..input.ndim()).rev() {
            let d = input.dims()[k];
            strides[k + off] = if d == 1 { 0 } else { stride };
            stride *= d;
        }
        Broadcast::Strided { out, strides }
    }

    /// The input index read for output index `i`.
    #[inline]
    pub(crate) fn index(&self, i: usize) -> usize {
        match self {
            Broadcast::Same => i,
            Broadcast::Scalar => 0,
            Broadcast::Strided { out, strides } => {
                let mut rem = i;
                let mut idx = 0;
                for k in (0..out.ndim()).rev() {
                    let d = out.dims[k];
                    idx += (rem % d) * strides[k];
                    rem /= d;
                }
                idx
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcasting_follows_numpy() {
        let s = |d: &[usize]| Shape::new(d).unwrap();
        assert_eq!(Shape::broadcast(s(&[3, 1]), s(&[4])), Some(s(&[3, 4])));
        assert_eq!(Shape::broadcast(Shape::SCALAR, s(&[5])), Some(s(&[5])));
        assert_eq!(Shape::broadcast(s(&[3]), s(&[4])), None);
        let b = Broadcast::new(s(&[3, 1]), s(&[3, 4]));
        assert_eq!(
            (0..12).map(|i| b.index(i)).collect::<Vec<_>>(),
            vec![0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2]
        );
        let b = Broadcast::new(s(&[4]), s(&[3, 4]));
        assert_eq!(b.index(5), 1);
    }
}
