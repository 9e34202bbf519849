//! Comparisons shared by the unit tests of `stats/`.

/// Assert `got` equals `expected` within `tol` relative to |expected|
/// (absolute when expected is 0).
#[track_caller]
pub(crate) fn assert_rel(got: f64, expected: f64, tol: f64, what: &str) {
    let scale = expected.abs().max(f64::MIN_POSITIVE);
    let err = if expected == 0.0 {
        got.abs()
    } else {
        (got - expected).abs() / scale
    };
    assert!(
        err <= tol,
        "{what}: got {got:e}, expected {expected:e}, relative error {err:e} > {tol:e}"
    );
}

/// Assert `got` equals `expected` within `tol` absolutely.
#[track_caller]
pub(crate) fn assert_abs(got: f64, expected: f64, tol: f64, what: &str) {
    let err = (got - expected).abs();
    assert!(
        err <= tol,
        "{what}: got {got:e}, expected {expected:e}, absolute error {err:e} > {tol:e}"
    );
}

/// A tiny deterministic generator (64-bit LCG, Knuth's MMIX constants) so
/// property-style tests need no extra dependency.
pub(crate) struct Lcg(pub u64);

impl Lcg {
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 11
    }

    /// Uniform integer in `0..bound`.
    pub(crate) fn below(&mut self, bound: u64) -> u64 {
        self.next_u64() % bound.max(1)
    }

    /// A value on a quarter-unit grid in [-500, 1500): sums of these are
    /// exact in f64, so merged statistics must equal the whole bit for bit.
    pub(crate) fn quarter(&mut self) -> f64 {
        (self.below(8000) as f64 - 2000.0) / 4.0
    }

    /// An arbitrary value in [-100, 900), not on any grid.
    pub(crate) fn real(&mut self) -> f64 {
        (self.next_u64() as f64 / (1u64 << 53) as f64) * 1000.0 - 100.0
    }
}

/// The top-level field names a `Serialize` struct emits, in order (serde
/// with no format crate): pins the snake_case names of result records.
pub(crate) fn field_names<T: serde::Serialize>(value: &T) -> Vec<&'static str> {
    let mut names = Vec::new();
    // A value that is not a struct serializes as nothing here.
    let _ = value.serialize(FieldNames(&mut names));
    names
}

#[derive(Debug)]
pub(crate) struct NotAStruct;

impl std::fmt::Display for NotAStruct {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("not a struct")
    }
}

impl std::error::Error for NotAStruct {}

impl serde::ser::Error for NotAStruct {
    fn custom<M: std::fmt::Display>(_msg: M) -> Self {
        NotAStruct
    }
}

struct FieldNames<'a>(&'a mut Vec<&'static str>);

macro_rules! not_a_struct {
    ($($method:ident($($ty:ty),*)),* $(,)?) => {
        $(fn $method(self, $(_: $ty),*) -> Result<(), NotAStruct> { Err(NotAStruct) })*
    };
}

impl<'a> serde::Serializer for FieldNames<'a> {
    type Ok = ();
    type Error = NotAStruct;
    type SerializeSeq = serde::ser::Impossible<(), NotAStruct>;
    type SerializeTuple = serde::ser::Impossible<(), NotAStruct>;
    type SerializeTupleStruct = serde::ser::Impossible<(), NotAStruct>;
    type SerializeTupleVariant = serde::ser::Impossible<(), NotAStruct>;
    type SerializeMap = serde::ser::Impossible<(), NotAStruct>;
    type SerializeStruct = Self;
    type SerializeStructVariant = serde::ser::Impossible<(), NotAStruct>;

    not_a_struct!(
        serialize_bool(bool),
        serialize_i8(i8),
        serialize_i16(i16),
        serialize_i32(i32),
        serialize_i64(i64),
        serialize_u8(u8),
        serialize_u16(u16),
        serialize_u32(u32),
        serialize_u64(u64),
        serialize_f32(f32),
        serialize_f64(f64),
        serialize_char(char),
        serialize_str(&str),
        serialize_bytes(&[u8]),
        serialize_none(),
        serialize_unit(),
        serialize_unit_struct(&'static str),
        serialize_unit_variant(&'static str, u32, &'static str),
    );

    fn serialize_some<T: serde::Serialize + ?Sized>(self, _: &T) -> Result<(), NotAStruct> {
        Err(NotAStruct)
    }
    fn serialize_newtype_struct<T: serde::Serialize + ?Sized>(
        self,
        _: &'static str,
        _: &T,
    ) -> Result<(), NotAStruct> {
        Err(NotAStruct)
    }
    fn serialize_newtype_variant<T: serde::Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<(), NotAStruct> {
        Err(NotAStruct)
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, NotAStruct> {
        Err(NotAStruct)
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, NotAStruct> {
        Err(NotAStruct)
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, NotAStruct> {
        Err(NotAStruct)
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, NotAStruct> {
        Err(NotAStruct)
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, NotAStruct> {
        Err(NotAStruct)
    }
    fn serialize_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStruct, NotAStruct> {
        Ok(self)
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, NotAStruct> {
        Err(NotAStruct)
    }
}

impl<'a> serde::ser::SerializeStruct for FieldNames<'a> {
    type Ok = ();
    type Error = NotAStruct;

    fn serialize_field<T: serde::Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        _: &T,
    ) -> Result<(), NotAStruct> {
        self.0.push(key);
        Ok(())
    }

    fn end(self) -> Result<(), NotAStruct> {
        Ok(())
    }
}
