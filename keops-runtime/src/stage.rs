//! The interface between macro-generated code and the engines.
//!
//! The `keops!` macro emits, for every reduction stage of a kernel family, a
//! unit struct implementing [`CpuStage`]: static metadata ([`StageInfo`])
//! and four `#[inline(always)]` phase functions generic over the SIMD pack
//! type. The engines are generic over the stage, so each stage is
//! monomorphised into its own loops with no dynamic dispatch per pair.

use crate::simd::Pack;

/// Element types of the fixed-size buffers of a stage.
pub trait Elem: Copy + Send + Sync + 'static {}
impl<E: Copy + Send + Sync + 'static> Elem for E {}

mod sealed {
    /// Only the buffer types of this module are buffers: `BufCat`'s
    /// contiguous view relies on every buffer being a run of `E`s.
    pub trait Sealed {}
}

/// A fixed-size buffer of a stage: an array `[E; N]`, or, where the length
/// depends on a const-generic width of the generated code (`2 + D`
/// elements is not an array type on stable Rust), [`BufCat`] and [`BufRep`]
/// of arrays. Every buffer is a contiguous run of `LEN` elements.
pub trait Buf<E: Elem>: sealed::Sealed + Copy + Send + Sync + 'static {
    /// Number of elements.
    const LEN: usize;
    /// All elements equal to `e`.
    fn splat(e: E) -> Self;
    /// Element `k` is `f(k)`.
    fn from_fn(f: impl FnMut(usize) -> E) -> Self;
    /// The elements.
    fn as_slice(&self) -> &[E];
    /// The elements, mutably.
    fn as_mut_slice(&mut self) -> &mut [E];
}

impl<E: Elem, const N: usize> sealed::Sealed for [E; N] {}

impl<E: Elem, const N: usize> Buf<E> for [E; N] {
    const LEN: usize = N;
    #[inline(always)]
    fn splat(e: E) -> Self {
        [e; N]
    }
    #[inline(always)]
    fn from_fn(f: impl FnMut(usize) -> E) -> Self {
        core::array::from_fn(f)
    }
    #[inline(always)]
    fn as_slice(&self) -> &[E] {
        self
    }
    #[inline(always)]
    fn as_mut_slice(&mut self) -> &mut [E] {
        self
    }
}

/// Two buffers end to end (`[E; A::LEN + B::LEN]`): the buffers of stages
/// whose widths are const generics (`x: Vi<D>` and `b: Vj<1>` as inner
/// features: `BufCat<BufRep<E, D, 1>, [E; 1]>`).
#[derive(Clone, Copy, Debug)]
#[repr(C)]
pub struct BufCat<A, B>(pub A, pub B);

/// `B` runs of `W` elements end to end (`[E; B * W]` for a const-generic
/// width `W`).
#[derive(Clone, Copy, Debug)]
#[repr(transparent)]
pub struct BufRep<E, const W: usize, const B: usize>(pub [[E; W]; B]);

impl<A, B> sealed::Sealed for BufCat<A, B> {}

impl<E: Elem, A: Buf<E>, B: Buf<E>> Buf<E> for BufCat<A, B> {
    const LEN: usize = A::LEN + B::LEN;
    #[inline(always)]
    fn splat(e: E) -> Self {
        BufCat(A::splat(e), B::splat(e))
    }
    #[inline(always)]
    fn from_fn(mut f: impl FnMut(usize) -> E) -> Self {
        let a = A::from_fn(&mut f);
        BufCat(a, B::from_fn(|k| f(A::LEN + k)))
    }
    #[inline(always)]
    fn as_slice(&self) -> &[E] {
        const { assert!(core::mem::size_of::<Self>() == Self::LEN * core::mem::size_of::<E>()) };
        // SAFETY: every `Buf` is sealed in this module and is a run of its
        // `LEN` initialised `E`s aligned as `E` (arrays, and these two types
        // built from them); `repr(C)` puts `B` right after `A` (no padding:
        // `A`'s size is a multiple of `E`'s alignment, which is `B`'s), as
        // the size assertion above confirms. So `self` is `LEN` contiguous
        // `E`s, borrowed for the lifetime of `&self`.
        unsafe { core::slice::from_raw_parts(self as *const Self as *const E, Self::LEN) }
    }
    #[inline(always)]
    fn as_mut_slice(&mut self) -> &mut [E] {
        const { assert!(core::mem::size_of::<Self>() == Self::LEN * core::mem::size_of::<E>()) };
        // SAFETY: as in `as_slice`, with the exclusive borrow of `self`.
        unsafe { core::slice::from_raw_parts_mut(self as *mut Self as *mut E, Self::LEN) }
    }
}

impl<E, const W: usize, const B: usize> sealed::Sealed for BufRep<E, W, B> {}

impl<E: Elem, const W: usize, const B: usize> Buf<E> for BufRep<E, W, B> {
    const LEN: usize = W * B;
    #[inline(always)]
    fn splat(e: E) -> Self {
        BufRep([[e; W]; B])
    }
    #[inline(always)]
    fn from_fn(mut f: impl FnMut(usize) -> E) -> Self {
        BufRep(core::array::from_fn(|b| {
            core::array::from_fn(|w| f(b * W + w))
        }))
    }
    #[inline(always)]
    fn as_slice(&self) -> &[E] {
        self.0.as_flattened()
    }
    #[inline(always)]
    fn as_mut_slice(&mut self) -> &mut [E] {
        self.0.as_flattened_mut()
    }
}

/// The element type of a buffer built from arrays (what [`BufCat`]
/// indexes).
pub trait Items {
    /// The element type.
    type Item;
}

impl<E, const N: usize> Items for [E; N] {
    type Item = E;
}

impl<A: Items, B> Items for BufCat<A, B> {
    type Item = A::Item;
}

impl<E, const W: usize, const B: usize> Items for BufRep<E, W, B> {
    type Item = E;
}

impl<A: Items, B> core::ops::Index<usize> for BufCat<A, B>
where
    A::Item: Elem,
    Self: Buf<A::Item>,
{
    type Output = A::Item;
    #[inline(always)]
    fn index(&self, k: usize) -> &A::Item {
        &self.as_slice()[k]
    }
}

impl<A: Items, B> core::ops::IndexMut<usize> for BufCat<A, B>
where
    A::Item: Elem,
    Self: Buf<A::Item>,
{
    #[inline(always)]
    fn index_mut(&mut self, k: usize) -> &mut A::Item {
        &mut self.as_mut_slice()[k]
    }
}

impl<E: Elem, const W: usize, const B: usize> core::ops::Index<usize> for BufRep<E, W, B> {
    type Output = E;
    #[inline(always)]
    fn index(&self, k: usize) -> &E {
        &self.0.as_flattened()[k]
    }
}

impl<E: Elem, const W: usize, const B: usize> core::ops::IndexMut<usize> for BufRep<E, W, B> {
    #[inline(always)]
    fn index_mut(&mut self, k: usize) -> &mut E {
        &mut self.0.as_flattened_mut()[k]
    }
}

/// The static description of a stage and its vocabulary (variable
/// categories, kinds and roles, reductions, GPU launch metadata): the
/// contract with the compiler, defined once in `keops_abi`.
pub use keops_abi::{Cat, GpuMeta, Red, Role, StageInfo, VarKind, VarSpec};

/// The inner features of one pack of reduced indices, read in place from a
/// tile (feature `k` of lane `l` at `data[k * stride + l]`): the pair
/// function loads each feature where it uses it, so a load folds into the
/// arithmetic instruction and no copy of the features is made.
#[derive(Clone, Copy, Debug)]
pub struct Features<'a, T> {
    data: &'a [T],
    stride: usize,
    count: usize,
    lanes: usize,
}

impl<'a, T: crate::simd::Real> Features<'a, T> {
    /// `count` features of `lanes` values each, starting at `data[0]`,
    /// `stride` elements apart. Panics if `data` is too short for them.
    #[inline(always)]
    pub fn new(data: &'a [T], stride: usize, count: usize, lanes: usize) -> Self {
        assert!(
            count == 0 || (count - 1) * stride + lanes <= data.len(),
            "feature tile too short"
        );
        Features {
            data,
            stride,
            count,
            lanes,
        }
    }
    /// Feature `k` of every lane. Panics if `k` is not below the count (in
    /// the engine both are constants and the check disappears).
    #[inline(always)]
    pub fn get<P: Pack<Elem = T>>(&self, k: usize) -> P {
        assert!(
            k < self.count && P::LANES <= self.lanes,
            "feature index out of range"
        );
        // SAFETY: `new` checked that feature `count - 1`, hence every feature
        // `k < count`, has `lanes >= P::LANES` readable values.
        unsafe { P::load_ptr(self.data.as_ptr().add(k * self.stride)) }
    }
}

/// Per-row context of the pair function.
#[derive(Clone, Copy, Debug)]
pub struct PairCtx<'a, P: Pack> {
    /// The outer row's index-variable components.
    pub oi: &'a [usize],
    /// Absolute inner index of lane 0 of the current pack.
    pub j0: usize,
    /// `floor(r / 65536)` of the outer row index `r`, splatted.
    pub row_hi: P,
    /// `r mod 65536`, splatted.
    pub row_lo: P,
}

/// A stage, as emitted by the macro: metadata and the four phase programs.
///
/// - `param` runs once per call on the concatenated parameters;
/// - `outer` once per output row;
/// - `inner` once per reduced index (results stored as SIMD-friendly tiles);
/// - `pair` once per pack of pairs, producing the formula components followed
///   by the weight components. It reads the outer features as scalars and
///   splats them where used: a broadcast is free as an operand of an FMA,
///   and a row with many features (k-NN in D = 64) does not need a
///   register per feature.
pub trait CpuStage: Send + Sync + 'static {
    /// Metadata.
    const INFO: &'static StageInfo;
    /// Parameter features.
    type Pf<E: Elem>: Buf<E>;
    /// Outer features.
    type Of<E: Elem>: Buf<E>;
    /// Inner features.
    type Nf<E: Elem>: Buf<E>;
    /// Pair outputs (formula then weight).
    type Out<E: Elem>: Buf<E>;
    /// Reduction state.
    type Acc<E: Elem>: Buf<E>;
    /// Raw parameter components.
    type RawP<E: Elem>: Buf<E>;
    /// Raw outer-row components.
    type RawO<E: Elem>: Buf<E>;
    /// Raw inner-row components.
    type RawN<E: Elem>: Buf<E>;
    /// Outer index components.
    type IdxO: Buf<usize>;
    /// Inner index components.
    type IdxN: Buf<usize>;
    /// A group of outer rows processed together (register blocking): `[E; G]`.
    type Group<E: Elem>: Buf<E>;

    /// Parameter phase.
    fn param<P: Pack>(raw: &Self::RawP<P>, pf: &mut Self::Pf<P>);
    /// Outer phase.
    fn outer<P: Pack>(raw: &Self::RawO<P>, pf: &Self::Pf<P>, of: &mut Self::Of<P>);
    /// Inner phase.
    fn inner<P: Pack>(
        raw: &Self::RawN<P>,
        idx: &Self::IdxN,
        pf: &Self::Pf<P>,
        nf: &mut Self::Nf<P>,
    );
    /// Pair phase. `dot` is the value of the dot-product form's scalar
    /// product for this pack (see [`StageInfo::dot_of`]); unused otherwise.
    fn pair<P: Pack>(
        pf: &Self::Pf<P>,
        of: &Self::Of<P::Elem>,
        nf: Features<'_, P::Elem>,
        ctx: &PairCtx<'_, P>,
        dot: P,
        out: &mut Self::Out<P>,
    );

    /// True when `pair` computes approximate values (large squared distances
    /// in dot-product form, see `keops_compiler::lower::lower_dot_form`) and
    /// the selected candidates must be re-evaluated with [`CpuStage::exact`].
    const RERANK: bool = false;

    /// The exact formula values of one pair (outer row raw data `raw_o`,
    /// inner raw data `raw_n`), all phases in one function. Only meaningful
    /// when [`CpuStage::RERANK`] is true.
    #[inline(always)]
    fn exact<P: Pack>(
        raw_p: &Self::RawP<P>,
        raw_o: &Self::RawO<P>,
        raw_n: &Self::RawN<P>,
        idx_o: &Self::IdxO,
        idx_n: &Self::IdxN,
        ctx: &PairCtx<'_, P>,
        out: &mut Self::Out<P>,
    ) {
        let _ = (raw_p, raw_o, raw_n, idx_o, idx_n, ctx, out);
    }

    /// Sum stages: the pair phase fused with the accumulation,
    /// `acc[d] = fma(a_d, b_d, acc[d])` for the factor pairs of `pair`,
    /// straight-line (no array of outputs in between, so everything stays
    /// in registers). Only called for sum stages outside the Kahan scheme.
    #[inline(always)]
    fn pair_sum<P: Pack>(
        pf: &Self::Pf<P>,
        of: &Self::Of<P::Elem>,
        nf: Features<'_, P::Elem>,
        ctx: &PairCtx<'_, P>,
        acc: &mut Self::Acc<P>,
    ) {
        let mut out = Self::Out::<P>::splat(P::splat(<P::Elem as Default>::default()));
        let zero = P::splat(<P::Elem as Default>::default());
        Self::pair(pf, of, nf, ctx, zero, &mut out);
        let d = Self::INFO.fdim;
        let (o, a) = (out.as_slice(), acc.as_mut_slice());
        for k in 0..d {
            a[k] = o[k].mul_add(o[d + k], a[k]);
        }
    }
}
