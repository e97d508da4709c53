//! Random `where` inputs of the record lists: field filters with every operator (lists far past their cap, `between`
//! of any arity, values of the wrong type), under `and`/`or`/`not` and the relation filters `some`/`none`, as a
//! bushy tree a few levels deep wrapped in a chain of up to 200 more levels, far past every cap.

use proptest::{collection::vec, prelude::*};

use super::input::{
    Input, any_scalar, list_of, weird_date, weird_float, weird_int, weird_or_long_string, weird_string,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Contact,
    Company,
    Deal,
    Ticket,
}

#[derive(Clone, Copy, Debug)]
enum Scalar {
    Id,
    Str,
    Int,
    Float,
    Date,
    Bool,
}

impl Kind {
    /// The Query field listing these records.
    pub fn list(self) -> &'static str {
        match self {
            Self::Contact => "contacts",
            Self::Company => "companies",
            Self::Deal => "deals",
            Self::Ticket => "tickets",
        }
    }

    pub fn where_type(self) -> &'static str {
        match self {
            Self::Contact => "ContactWhere",
            Self::Company => "CompanyWhere",
            Self::Deal => "DealWhere",
            Self::Ticket => "TicketWhere",
        }
    }

    /// A sample of the type's filterable fields (schema.graphql), one or more of each filter type.
    fn fields(self) -> &'static [(&'static str, Scalar)] {
        use Scalar::*;
        match self {
            Self::Contact => &[
                ("hubspotId", Id),
                ("email", Str),
                ("firstName", Str),
                ("lifecycleStage", Str),
                ("hubspotScore", Int),
                ("ownerId", Id),
                ("lastContactedAt", Date),
                ("createdAt", Date),
            ],
            Self::Company => &[
                ("hubspotId", Id),
                ("name", Str),
                ("domain", Str),
                ("numberOfEmployees", Int),
                ("annualRevenue", Float),
                ("notesLastUpdatedAt", Date),
            ],
            Self::Deal => &[
                ("hubspotId", Id),
                ("name", Str),
                ("amount", Float),
                ("stageId", Str),
                ("closeDate", Date),
                ("isClosed", Bool),
                ("isClosedWon", Bool),
                ("probability", Float),
            ],
            Self::Ticket => &[("hubspotId", Id), ("subject", Str), ("priority", Str), ("closedAt", Date)],
        }
    }

    /// The relation filters of the type and the records they reach.
    fn relations(self) -> &'static [(&'static str, Kind)] {
        use Kind::*;
        match self {
            Self::Contact => &[("companies", Company), ("deals", Deal), ("tickets", Ticket)],
            Self::Company => &[("contacts", Contact), ("deals", Deal), ("tickets", Ticket)],
            Self::Deal => &[("contacts", Contact), ("companies", Company)],
            Self::Ticket => &[("contacts", Contact), ("companies", Company)],
        }
    }
}

/// How big one field filter may be: `Big` takes strings of up to 70,000 characters and lists of up to 2,500
/// values; `Small` (a filter repeated a thousand times in a wide `and`/`or`) takes neither, which keeps a case near
/// the 256 KiB a request body may hold instead of hundreds of megabytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Size {
    Big,
    Small,
}

/// A value for a field of type `scalar`: mostly of that type, sometimes of another.
fn value(scalar: Scalar, size: Size) -> BoxedStrategy<Input> {
    let right = match scalar {
        Scalar::Id => prop_oneof![
            (0i64..2_000).prop_map(Input::Int),
            weird_int().prop_map(|i| Input::Str(i.to_string())),
            weird_string().prop_map(Input::Str),
        ]
        .boxed(),
        Scalar::Str if size == Size::Big => weird_or_long_string().prop_map(Input::Str).boxed(),
        Scalar::Str => weird_string().prop_map(Input::Str).boxed(),
        Scalar::Int => weird_int().prop_map(Input::Int).boxed(),
        Scalar::Float => prop_oneof![weird_float().prop_map(Input::Float), weird_int().prop_map(Input::Int)].boxed(),
        Scalar::Date => weird_date().prop_map(Input::Str).boxed(),
        Scalar::Bool => any::<bool>().prop_map(Input::Bool).boxed(),
    };
    prop_oneof![8 => right, 1 => any_scalar()].boxed()
}

/// The operators of a filter of type `scalar`: one value each, a list each, and `isNull`.
fn operators(scalar: Scalar) -> (&'static [&'static str], &'static [&'static str]) {
    const ORD: &[&str] = &["eq", "ne", "lt", "lte", "gt", "gte"];
    const ORD_LISTS: &[&str] = &["in", "notIn", "between"];
    match scalar {
        Scalar::Id => (&["eq", "ne"], &["in", "notIn"]),
        Scalar::Str => (&["eq", "ne", "lt", "lte", "gt", "gte", "contains", "startsWith"], ORD_LISTS),
        Scalar::Int | Scalar::Float | Scalar::Date => (ORD, ORD_LISTS),
        Scalar::Bool => (&["eq"], &[]),
    }
}

/// One field's filter: one to three operators, now and then one the type does not have.
fn field_filter(scalar: Scalar, size: Size) -> BoxedStrategy<Input> {
    let (single, lists) = operators(scalar);
    let list = match size {
        Size::Big => list_of(value(scalar, Size::Small)),
        Size::Small => vec(value(scalar, Size::Small), 0..4).prop_map(Input::List).boxed(),
    };
    let mut choices: Vec<BoxedStrategy<(String, Input)>> = vec![
        (proptest::sample::select(single), value(scalar, size)).prop_map(|(op, v)| (op.to_owned(), v)).boxed(),
        any::<Option<bool>>().prop_map(|b| ("isNull".to_owned(), b.map_or(Input::Null, Input::Bool))).boxed(),
        (proptest::sample::select(["like", "regex", "eq_"].as_slice()), any_scalar())
            .prop_map(|(op, v)| (op.to_owned(), v))
            .boxed(),
    ];
    if !lists.is_empty() {
        let list = (proptest::sample::select(lists), list).prop_map(|(op, v)| (op.to_owned(), v)).boxed();
        choices.push(list.clone());
        choices.push(list);
    }
    // The unknown operator is one choice of five (four for Bool); weight the real ones up.
    let weighted: Vec<(u32, BoxedStrategy<(String, Input)>)> =
        choices.into_iter().enumerate().map(|(i, s)| (if i == 2 { 1 } else { 4 }, s)).collect();
    vec(proptest::strategy::Union::new_weighted(weighted), 1..=3).prop_map(Input::Object).boxed()
}

/// A filter on one to three of the type's fields (or none: `{}` matches every record).
fn leaf(kind: Kind, size: Size) -> BoxedStrategy<Input> {
    let fields: Vec<BoxedStrategy<(String, Input)>> = kind
        .fields()
        .iter()
        .map(|&(name, scalar)| field_filter(scalar, size).prop_map(move |f| (name.to_owned(), f)).boxed())
        .collect();
    vec(proptest::strategy::Union::new(fields), 0..=3).prop_map(Input::Object).boxed()
}

/// `{and|or: [leaf × n]}` for n around and past the list cap: a wide filter is a long SQL condition.
fn wide(kind: Kind) -> BoxedStrategy<Input> {
    (leaf(kind, Size::Small), any::<bool>(), prop_oneof![1usize..50, 995usize..1006, 1006usize..1200])
        .prop_map(|(leaf, and, n)| Input::field(if and { "and" } else { "or" }, Input::List(vec![leaf; n])))
        .boxed()
}

/// A bushy filter at most `depth` levels of combinators and relations deep.
fn tree(kind: Kind, depth: u32) -> BoxedStrategy<Input> {
    if depth == 0 {
        return prop_oneof![4 => leaf(kind, Size::Big), 1 => wide(kind)].boxed();
    }
    let sub = tree(kind, depth - 1);
    let relations: Vec<BoxedStrategy<Input>> = kind
        .relations()
        .iter()
        .map(|&(name, target)| {
            (tree(target, depth - 1), any::<bool>())
                .prop_map(move |(w, some)| Input::field(name, Input::field(if some { "some" } else { "none" }, w)))
                .boxed()
        })
        .collect();
    prop_oneof![
        3 => leaf(kind, Size::Big),
        1 => wide(kind),
        2 => (vec(sub.clone(), 0..4), any::<bool>())
            .prop_map(|(v, and)| Input::field(if and { "and" } else { "or" }, Input::List(v))),
        1 => sub.clone().prop_map(|w| Input::field("not", w)),
        2 => proptest::strategy::Union::new(relations),
        // Combinators and field filters in one object: all must hold.
        1 => (leaf(kind, Size::Big), sub).prop_map(|(a, b)| merge(a, b)),
    ]
    .boxed()
}

fn merge(a: Input, b: Input) -> Input {
    match (a, b) {
        (Input::Object(mut a), Input::Object(b)) => {
            // A repeated field name is a validation error; keep the first.
            for (name, value) in b {
                if a.iter().all(|(n, _)| *n != name) {
                    a.push((name, value));
                }
            }
            Input::Object(a)
        }
        (a, _) => a,
    }
}

/// One level of the chain around the tree.
#[derive(Clone, Copy, Debug)]
enum Wrap {
    And,
    Or,
    Not,
    /// `some` (true) or `none` through the relation at this index (modulo the type's relations).
    Relation(usize, bool),
}

fn wrap() -> impl Strategy<Value = Wrap> {
    prop_oneof![
        Just(Wrap::And),
        Just(Wrap::Or),
        Just(Wrap::Not),
        (0usize..3, any::<bool>()).prop_map(|(i, some)| Wrap::Relation(i, some)),
    ]
}

/// A `where` input of `kind`: a chain of 0 to 200 wrappers (around the caps too) around a bushy tree.
pub fn where_input(kind: Kind) -> BoxedStrategy<Input> {
    let chain = prop_oneof![4 => vec(wrap(), 0..4), 1 => vec(wrap(), 10..40), 1 => vec(wrap(), 40..=200)];
    // Built once: a tree strategy is a few thousand boxed strategies.
    let trees: Vec<(Kind, BoxedStrategy<Input>)> =
        [Kind::Contact, Kind::Company, Kind::Deal, Kind::Ticket].into_iter().map(|k| (k, tree(k, 3))).collect();
    chain
        .prop_flat_map(move |chain| {
            // The kind each level filters, outermost first; the tree filters the innermost.
            let mut kinds = vec![kind];
            for w in &chain {
                let at = *kinds.last().expect("starts with the root");
                kinds.push(match w {
                    Wrap::Relation(i, _) => at.relations()[i % at.relations().len()].1,
                    _ => at,
                });
            }
            let inner = *kinds.last().expect("starts with the root");
            let tree = trees.iter().find(|(k, _)| *k == inner).expect("a tree of every kind").1.clone();
            (tree, Just(chain), Just(kinds))
        })
        .prop_map(|(tree, chain, kinds)| {
            chain.iter().zip(&kinds).rev().fold(tree, |inner, (w, at)| match *w {
                Wrap::And => Input::field("and", Input::List(vec![inner])),
                Wrap::Or => Input::field("or", Input::List(vec![inner])),
                Wrap::Not => Input::field("not", inner),
                Wrap::Relation(i, some) => {
                    let (name, _) = at.relations()[i % at.relations().len()];
                    Input::field(name, Input::field(if some { "some" } else { "none" }, inner))
                }
            })
        })
        .boxed()
}
