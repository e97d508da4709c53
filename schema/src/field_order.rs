//! Answers with their fields in the order the operation asks for them. async-graphql resolves an object's fields
//! concurrently and keeps them in the order they finish (async-graphql#612): `{ deals contacts }` answered contacts
//! first whenever they counted sooner. Once the operation ran, each object of the answer is put back in the order of
//! its selection set (the spec's "Serialized Map Ordering"); the fields still resolve concurrently.

use std::collections::{HashMap, HashSet};

use async_graphql::{
    Name, Positioned, Value,
    indexmap::IndexMap,
    parser::types::{DocumentOperations, ExecutableDocument, FragmentDefinition, Selection, SelectionSet},
};

/// The order of an operation's answer: its response keys, in the order asked, each with the order of its own value.
pub(crate) struct Plan {
    fields: Vec<(Name, Plan)>,
}

impl Plan {
    /// The order of the operation `document` runs under `operation_name` (async-graphql's choice: the named one, or
    /// the only one); `None` when it names none, which execution refuses.
    pub(crate) fn of(document: &ExecutableDocument, operation_name: Option<&str>) -> Option<Self> {
        let operation = match &document.operations {
            DocumentOperations::Single(operation) => Some(operation),
            DocumentOperations::Multiple(operations) => match operation_name {
                Some(name) => operations.get(name),
                None => operations.values().next().filter(|_| operations.len() == 1),
            },
        }?;
        Some(plan(&[&operation.node.selection_set.node], &document.fragments, 0))
    }

    /// Puts the fields of `value`'s objects in the order asked; an object already in order is only walked.
    pub(crate) fn order(&self, value: &mut Value) {
        order(value, self);
    }
}

type Fragments = HashMap<Name, Positioned<FragmentDefinition>>;

/// Selection sets nest no deeper than this in a plan (the limits refuse far shallower operations).
const MAX_DEPTH: usize = 64;

/// The plan of the value `sets` (the selection sets that ask for it) make.
fn plan<'a>(sets: &[&'a SelectionSet], fragments: &'a Fragments, depth: usize) -> Plan {
    if depth > MAX_DEPTH {
        return Plan { fields: Vec::new() };
    }
    let mut keys: IndexMap<&Name, Vec<&SelectionSet>> = IndexMap::new();
    let mut spread = HashSet::new();
    for set in sets {
        collect(set, fragments, &mut spread, &mut keys);
    }
    let fields = keys.into_iter().map(|(key, subsets)| (key.clone(), plan(&subsets, fragments, depth + 1))).collect();
    Plan { fields }
}

/// Puts the fields of `value`'s objects in the order `plan` says; an object already in order is left as it is.
fn order(value: &mut Value, plan: &Plan) {
    match value {
        Value::List(items) => items.iter_mut().for_each(|item| order(item, plan)),
        Value::Object(fields) => {
            // Most objects answer in order already (their fields were ready at once): they are only walked.
            let in_order =
                fields.len() == plan.fields.len() && fields.keys().zip(&plan.fields).all(|(a, (b, _))| a == b);
            if !in_order {
                let mut ordered = IndexMap::with_capacity(fields.len());
                for (key, _) in &plan.fields {
                    if let Some(field) = fields.shift_remove(key) {
                        ordered.insert(key.clone(), field);
                    }
                }
                // Anything no selection names (none is expected) keeps its place after them.
                ordered.extend(fields.drain(..));
                *fields = ordered;
            }
            // The fields are now in the plan's order: one walk of both pairs each with its own plan.
            let mut below = plan.fields.iter();
            for (key, field) in fields.iter_mut() {
                if let Some((_, plan)) = below.by_ref().find(|(asked, _)| asked == key) {
                    order(field, plan);
                }
            }
        }
        _ => {}
    }
}

/// The response keys `set` selects, in order, with the selection sets below each; fragments are read where they are
/// spread, each once.
fn collect<'a>(
    set: &'a SelectionSet,
    fragments: &'a Fragments,
    spread: &mut HashSet<&'a Name>,
    keys: &mut IndexMap<&'a Name, Vec<&'a SelectionSet>>,
) {
    for selection in &set.items {
        match &selection.node {
            Selection::Field(field) => {
                let field = &field.node;
                keys.entry(&field.response_key().node).or_default().push(&field.selection_set.node);
            }
            Selection::FragmentSpread(spread_node) => {
                let name = &spread_node.node.fragment_name.node;
                if spread.insert(name)
                    && let Some(fragment) = fragments.get(name)
                {
                    collect(&fragment.node.selection_set.node, fragments, spread, keys);
                }
            }
            Selection::InlineFragment(inline) => collect(&inline.node.selection_set.node, fragments, spread, keys),
        }
    }
}
