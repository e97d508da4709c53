//! What one operation may ask for, checked before it costs anything: how deep its text nests (before the parser
//! recurses into it), how deep and long its input values are and how many values one argument holds (literals and
//! variables, before any input type is parsed), how many aliases and root fields it has, and how many HubSpot reads it asks for by `fresh: true`. Each
//! refusal is a `LIMIT_EXCEEDED` error naming the limit (`extensions.limit`) and its value (`extensions.max`).
//!
//! The cost of an operation is the rows it may answer with, the lists inside a list counted once per outer row, so
//! a 100-row list of 100-row lists costs 10,100; the depth of its selections is async-graphql's count. HubSpot calls that only running can
//! tell (records the mirror lacks, writes) are counted by the request's `Scope`.

use std::collections::HashMap;

use crate::error::MAX_PAGE_SIZE;

use async_graphql::{
    Name, Positioned, ServerError, ServerResult, Value, Variables,
    parser::types::{ExecutableDocument, OperationType, Selection, SelectionSet},
};

/// The bounds of one operation; [`Limits::default`] is what the gateway serves with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// `{`, `[` and `(` open at once anywhere in the query text.
    pub nesting: usize,
    /// Objects and lists inside one another in an input value (`{and: [{…}]}` is two levels).
    pub input_depth: usize,
    /// Elements of one list in an input value (`in: […]`).
    pub list_size: usize,
    /// Values (objects, lists and scalars) in one argument, each variable counted where it is used: they become one
    /// statement's conditions and bound parameters (SQLite takes 32,766, Postgres 65,535, the rest was an internal
    /// error), and `{or: [$w, $w, …]}` multiplies a variable.
    pub input_values: usize,
    /// Fields with an alias, fragments counted where they are spread.
    pub aliases: usize,
    /// Fields at the root of the operation.
    pub root_fields: usize,
    /// Selection sets inside one another.
    pub depth: usize,
    /// Rows an answer may hold, the rows of lists inside lists counted once per outer row (see `Walk::cost`).
    pub complexity: usize,
    /// Calls to HubSpot one request may cause: `fresh: true` reads, mirror misses and writes.
    pub hubspot_calls: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            nesting: 64,
            // async-graphql parses an input object recursively, about 100 KB of stack a level of `ContactWhere` in a
            // debug build: 10 levels of `{and: [...]}` (depth 21) overflowed a 2 MiB tokio worker, 7 take about
            // 1.7 MiB.
            input_depth: 16,
            list_size: 1_000,
            input_values: 10_000,
            aliases: 100,
            root_fields: 50,
            depth: 12,
            complexity: 20_000,
            hubspot_calls: 20,
        }
    }
}

/// The refusal of a request over `limit`; `max` is the limit's value.
pub fn exceeded(limit: &str, max: usize, message: String) -> ServerError {
    let mut error = ServerError::new(message, None);
    let mut extensions = async_graphql::ErrorExtensionValues::default();
    extensions.set("code", "LIMIT_EXCEEDED");
    extensions.set("limit", limit);
    extensions.set("max", max as u64);
    error.extensions = Some(extensions);
    error
}

impl Limits {
    /// Checks a request before its text is parsed: how deep the text nests and how many aliases it holds (see
    /// [`check_text`]), and how deep and long its variables are.
    pub(crate) fn check_request(&self, request: &async_graphql::Request) -> ServerResult<()> {
        check_text(&request.query, self)?;
        variables(&request.variables, self)
    }

    /// Checks a parsed document: its aliases, root fields, cost, input values, `fresh` reads and depth.
    pub(crate) fn check_document(&self, document: &ExecutableDocument, variables: &Variables) -> ServerResult<()> {
        let mut walk = Walk::new(document, self);
        walk.operations(variables)?;
        let depth = walk.depth();
        if depth > self.depth {
            let max = self.depth;
            return Err(exceeded("depth", max, format!("selections nest {depth} levels deep; at most {max}")));
        }
        Ok(())
    }
}

/// Refuses a text before it is parsed: one whose brackets nest deeper than the nesting limit (the parser recurses
/// into them), or with a definition holding more colons outside parentheses than the alias limit (outside
/// arguments, variables and their values, a colon is an alias; sixteen texts of 4,000 parsed at once raised the
/// gateway's peak memory by 35-43 MiB).
/// Strings and comments are skipped. The alias count is a floor of the parsed one (a used fragment counts at least
/// once where spread, an unused one fails validation), so this refuses nothing the document's check would take.
pub fn check_text(query: &str, limits: &Limits) -> ServerResult<()> {
    let bytes = query.as_bytes();
    let (mut depth, mut parens, mut colons, mut at) = (0usize, 0usize, 0usize, 0usize);
    while at < bytes.len() {
        match bytes[at] {
            b'#' => {
                while at < bytes.len() && bytes[at] != b'\n' {
                    at += 1;
                }
            }
            b'"' if bytes[at..].starts_with(b"\"\"\"") => {
                at += 3;
                while at < bytes.len() && !bytes[at..].starts_with(b"\"\"\"") {
                    at += if bytes[at..].starts_with(b"\\\"\"\"") { 4 } else { 1 };
                }
                at += 2;
            }
            b'"' => {
                at += 1;
                while at < bytes.len() && bytes[at] != b'"' && bytes[at] != b'\n' {
                    at += if bytes[at] == b'\\' { 2 } else { 1 };
                }
            }
            open @ (b'{' | b'[' | b'(') => {
                depth += 1;
                parens += usize::from(open == b'(');
                if depth > limits.nesting {
                    let max = limits.nesting;
                    let message = format!("the query nests deeper than {max} levels ({{, [ and ( counted)");
                    return Err(exceeded("nesting", max, message));
                }
            }
            close @ (b'}' | b']' | b')') => {
                depth = depth.saturating_sub(1);
                parens = parens.saturating_sub(usize::from(close == b')'));
                // A definition (operation or fragment) ends where its braces close.
                if depth == 0 {
                    colons = 0;
                }
            }
            b':' if parens == 0 => {
                colons += 1;
                if colons > limits.aliases {
                    let max = limits.aliases;
                    let message = format!("a definition of the query has more than {max} aliases");
                    return Err(exceeded("aliases", max, message));
                }
            }
            _ => {}
        }
        at += 1;
    }
    Ok(())
}

/// Refuses variables nested deeper than the input depth or with a list over the list size; iterative, so a
/// variable's depth cannot overflow the stack (JSON parsers stop at 128 levels, a client of the schema may not).
fn variables(variables: &Variables, limits: &Limits) -> ServerResult<()> {
    let mut stack: Vec<(&Value, usize)> = variables.values().map(|v| (v, 1)).collect();
    while let Some((value, depth)) = stack.pop() {
        let children: Box<dyn Iterator<Item = &Value>> = match value {
            Value::List(items) => {
                list_size(items.len(), limits.list_size)?;
                Box::new(items.iter())
            }
            Value::Object(fields) => Box::new(fields.values()),
            _ => continue,
        };
        if depth > limits.input_depth {
            return Err(input_depth(limits.input_depth));
        }
        stack.extend(children.map(|child| (child, depth + 1)));
    }
    Ok(())
}

fn input_depth(max: usize) -> ServerError {
    exceeded("inputDepth", max, format!("an input value nests objects and lists deeper than {max} levels"))
}

fn list_size(len: usize, max: usize) -> ServerResult<()> {
    if len > max {
        return Err(exceeded("listSize", max, format!("an input list has {len} values; at most {max} are taken")));
    }
    Ok(())
}

/// Counts over a parsed document, fragments counted where they are spread (once each per spread, as they run).
struct Walk<'a> {
    document: &'a ExecutableDocument,
    limits: &'a Limits,
    /// Aliases inside each fragment, spreads included; `None` while it is being counted (a cycle, which
    /// validation refuses later, counts nothing).
    fragment_aliases: HashMap<&'a Name, Option<usize>>,
    /// The same for each fragment's cost.
    fragment_costs: HashMap<&'a Name, Option<usize>>,
}

impl<'a> Walk<'a> {
    fn new(document: &'a ExecutableDocument, limits: &'a Limits) -> Self {
        Self { document, limits, fragment_aliases: HashMap::new(), fragment_costs: HashMap::new() }
    }

    fn operations(&mut self, variables: &Variables) -> ServerResult<()> {
        let document = self.document;
        for (_, operation) in document.operations.iter() {
            let operation = &operation.node;
            for definition in &operation.variable_definitions {
                if let Some(default) = &definition.node.default_value {
                    self.input(&default.node.clone().into_value(), 1, &HashMap::new(), &mut 0)?;
                }
            }
            let mut roots = Vec::new();
            self.root_fields(&operation.selection_set.node, &mut roots, 0);
            if operation.ty == OperationType::Query {
                let fresh = roots.iter().filter(|f| asks_fresh(f, variables)).count();
                if fresh > self.limits.hubspot_calls {
                    let max = self.limits.hubspot_calls;
                    let message = format!(
                        "the operation reads {fresh} records `fresh` from HubSpot; a request may cause at most {max} HubSpot calls"
                    );
                    return Err(exceeded("hubspotCalls", max, message));
                }
            }
            let aliases = self.aliases(&operation.selection_set.node)?;
            if aliases > self.limits.aliases {
                let max = self.limits.aliases;
                // Counting stops past the limit, so the message cannot say how many there are.
                let message = format!("the operation has more than {max} aliases (a fragment's count where spread)");
                return Err(exceeded("aliases", max, message));
            }
            if roots.len() > self.limits.root_fields {
                let (n, max) = (roots.len(), self.limits.root_fields);
                return Err(exceeded("rootFields", max, format!("the operation has {n} root fields; at most {max}")));
            }
            let cost = self.cost(&operation.selection_set.node, variables);
            if cost > self.limits.complexity {
                let max = self.limits.complexity;
                let message = format!(
                    "the operation may answer with {cost} rows (a list's rows, and the rows of the lists inside them once per row); at most {max}"
                );
                return Err(exceeded("complexity", max, message));
            }
        }
        let sizes = variable_sizes(document, variables);
        for fragment in document.fragments.values() {
            self.selections_input(&fragment.node.selection_set.node, &sizes)?;
        }
        for (_, operation) in document.operations.iter() {
            self.selections_input(&operation.node.selection_set.node, &sizes)?;
        }
        Ok(())
    }

    /// How deep the document's selections nest, counted as async-graphql's validation does: each field one level,
    /// fragments read where they are spread, every operation and fragment definition taken.
    fn depth(&self) -> usize {
        let mut known = HashMap::new();
        let definitions = self.document.fragments.values().map(|f| &f.node.selection_set.node);
        let operations = self.document.operations.iter().map(|(_, o)| &o.node.selection_set.node);
        definitions.chain(operations).map(|set| self.set_depth(set, &mut known)).max().unwrap_or(0)
    }

    /// The depth of `set`; `known` holds each fragment's (`None` while it is being measured: a cycle, which
    /// validation refuses, adds nothing). The text nests at most [`Limits::nesting`] levels, so recursing is safe.
    fn set_depth(&self, set: &'a SelectionSet, known: &mut HashMap<&'a Name, Option<usize>>) -> usize {
        let mut deepest = 0;
        for selection in &set.items {
            let depth = match &selection.node {
                Selection::Field(field) => 1 + self.set_depth(&field.node.selection_set.node, known),
                Selection::InlineFragment(inline) => self.set_depth(&inline.node.selection_set.node, known),
                Selection::FragmentSpread(spread) => {
                    let name = &spread.node.fragment_name.node;
                    match known.get(name) {
                        Some(depth) => depth.unwrap_or(0),
                        None => {
                            known.insert(name, None);
                            let depth = self
                                .document
                                .fragments
                                .get(name)
                                .map_or(0, |f| self.set_depth(&f.node.selection_set.node, known));
                            known.insert(name, Some(depth));
                            depth
                        }
                    }
                }
            };
            deepest = deepest.max(depth);
        }
        deepest
    }

    /// Aliased fields in `set`, the fragments it spreads included.
    fn aliases(&mut self, set: &'a SelectionSet) -> ServerResult<usize> {
        let mut count = 0usize;
        for selection in &set.items {
            count = count.saturating_add(match &selection.node {
                Selection::Field(field) => usize::from(field.node.alias.is_some())
                    .saturating_add(self.aliases(&field.node.selection_set.node)?),
                Selection::InlineFragment(inline) => self.aliases(&inline.node.selection_set.node)?,
                Selection::FragmentSpread(spread) => self.fragment(&spread.node.fragment_name.node)?,
            });
            if count > self.limits.aliases {
                break;
            }
        }
        Ok(count)
    }

    fn fragment(&mut self, name: &'a Name) -> ServerResult<usize> {
        match self.fragment_aliases.get(name) {
            Some(known) => return Ok(known.unwrap_or(0)),
            None => self.fragment_aliases.insert(name, None),
        };
        let count = match self.document.fragments.get(name) {
            Some(fragment) => self.aliases(&fragment.node.selection_set.node)?,
            None => 0,
        };
        self.fragment_aliases.insert(name, Some(count));
        Ok(count)
    }

    /// The rows `set` may answer with: a list counts each row it may return, and the rows of the lists inside it
    /// once per row (a 100-row list of 100-row lists: 10,100). A list is a field taking `first` or `last` (its
    /// value, at most the page size), or one selecting `edges` or `nodes` (a connection: the page size).
    fn cost(&mut self, set: &'a SelectionSet, variables: &Variables) -> usize {
        let mut total = 0usize;
        for selection in &set.items {
            let cost = match &selection.node {
                Selection::Field(field) => {
                    let field = &field.node;
                    let children = self.cost(&field.selection_set.node, variables);
                    match page_asked(field, variables) {
                        Some(rows) => rows.saturating_mul(children.saturating_add(1)),
                        None if self.selects_rows(&field.selection_set.node, 0) => {
                            (MAX_PAGE_SIZE as usize).saturating_mul(children.saturating_add(1))
                        }
                        None => children,
                    }
                }
                Selection::InlineFragment(inline) => self.cost(&inline.node.selection_set.node, variables),
                Selection::FragmentSpread(spread) => {
                    let name = &spread.node.fragment_name.node;
                    match self.fragment_costs.get(name) {
                        Some(known) => known.unwrap_or(0),
                        None => {
                            self.fragment_costs.insert(name, None);
                            let cost = match self.document.fragments.get(name) {
                                Some(fragment) => self.cost(&fragment.node.selection_set.node, variables),
                                None => 0,
                            };
                            self.fragment_costs.insert(name, Some(cost));
                            cost
                        }
                    }
                }
            };
            total = total.saturating_add(cost);
        }
        total
    }

    /// Whether `set` selects `edges` or `nodes`, through fragments (a connection's rows).
    fn selects_rows(&self, set: &SelectionSet, hops: usize) -> bool {
        set.items.iter().any(|selection| match &selection.node {
            Selection::Field(f) => matches!(f.node.name.node.as_str(), "edges" | "nodes"),
            Selection::InlineFragment(inline) => self.selects_rows(&inline.node.selection_set.node, hops),
            Selection::FragmentSpread(spread) => {
                hops < self.limits.depth
                    && self
                        .document
                        .fragments
                        .get(&spread.node.fragment_name.node)
                        .is_some_and(|f| self.selects_rows(&f.node.selection_set.node, hops + 1))
            }
        })
    }

    /// The root fields of `set`, through inline fragments and spreads (`hops` bounds spreads of spreads; the text's
    /// size bounds the rest).
    fn root_fields(&self, set: &'a SelectionSet, out: &mut Vec<&'a async_graphql::parser::types::Field>, hops: usize) {
        for selection in &set.items {
            match &selection.node {
                Selection::Field(field) => out.push(&field.node),
                Selection::InlineFragment(inline) => self.root_fields(&inline.node.selection_set.node, out, hops),
                Selection::FragmentSpread(spread) if hops < self.limits.depth => {
                    if let Some(fragment) = self.document.fragments.get(&spread.node.fragment_name.node) {
                        self.root_fields(&fragment.node.selection_set.node, out, hops + 1);
                    }
                }
                Selection::FragmentSpread(_) => {}
            }
        }
    }

    /// Checks every argument value in `set`, its variables' values counted by `sizes` (its text nests at most
    /// [`Limits::nesting`] levels, so recursing is safe).
    fn selections_input(&self, set: &SelectionSet, sizes: &HashMap<&str, usize>) -> ServerResult<()> {
        for selection in &set.items {
            match &selection.node {
                Selection::Field(field) => {
                    for (_, value) in &field.node.arguments {
                        self.input(&value.node, 1, sizes, &mut 0)?;
                    }
                    self.selections_input(&field.node.selection_set.node, sizes)?;
                }
                Selection::InlineFragment(inline) => self.selections_input(&inline.node.selection_set.node, sizes)?,
                Selection::FragmentSpread(_) => {}
            }
        }
        Ok(())
    }

    /// Checks `value`, `depth` levels into an argument that holds `count` values so far.
    fn input(
        &self,
        value: &async_graphql_value::Value,
        depth: usize,
        sizes: &HashMap<&str, usize>,
        count: &mut usize,
    ) -> ServerResult<()> {
        use async_graphql_value::Value as V;
        *count = count.saturating_add(match value {
            V::Variable(name) => sizes.get(name.as_str()).copied().unwrap_or(1),
            _ => 1,
        });
        if *count > self.limits.input_values {
            let max = self.limits.input_values;
            let message = format!("an argument holds more than {max} values (a variable's counted where it is used)");
            return Err(exceeded("inputValues", max, message));
        }
        let children: Vec<&V> = match value {
            V::List(items) => {
                list_size(items.len(), self.limits.list_size)?;
                items.iter().collect()
            }
            V::Object(fields) => fields.values().collect(),
            _ => return Ok(()),
        };
        if depth > self.limits.input_depth {
            return Err(input_depth(self.limits.input_depth));
        }
        children.into_iter().try_for_each(|child| self.input(child, depth + 1, sizes, count))
    }
}

/// The values in each variable: as sent, else its default.
fn variable_sizes<'a>(document: &'a ExecutableDocument, variables: &'a Variables) -> HashMap<&'a str, usize> {
    let mut sizes: HashMap<&str, usize> =
        variables.iter().map(|(name, value)| (name.as_str(), values_in(value))).collect();
    for (_, operation) in document.operations.iter() {
        for definition in &operation.node.variable_definitions {
            if let Some(default) = &definition.node.default_value {
                sizes.entry(definition.node.name.node.as_str()).or_insert_with(|| values_in(&default.node));
            }
        }
    }
    sizes
}

/// Objects, lists and scalars in `value`, counted without recursion.
fn values_in(value: &Value) -> usize {
    let (mut stack, mut count) = (vec![value], 0usize);
    while let Some(value) = stack.pop() {
        count += 1;
        match value {
            Value::List(items) => stack.extend(items),
            Value::Object(fields) => stack.extend(fields.values()),
            _ => {}
        }
    }
    count
}

/// The rows a field taking `first` or `last` may return: its value, at most the page size (the page size when it is
/// not a number); `None` for a field taking neither.
fn page_asked(field: &async_graphql::parser::types::Field, variables: &Variables) -> Option<usize> {
    use async_graphql_value::Value as V;
    let page = MAX_PAGE_SIZE as usize;
    let value = field.get_argument("first").or_else(|| field.get_argument("last"))?;
    let asked = match &value.node {
        V::Number(n) => n.as_u64(),
        V::Variable(var) => match variables.get(var) {
            Some(Value::Number(n)) => n.as_u64(),
            _ => None,
        },
        _ => None,
    };
    Some(asked.map_or(page, |n| (n as usize).clamp(1, page)))
}

/// Whether a root field reads a record `fresh` from HubSpot: `fresh: true`, or a variable that is true.
fn asks_fresh(field: &async_graphql::parser::types::Field, variables: &Variables) -> bool {
    use async_graphql_value::Value as V;
    match field.get_argument("fresh").map(|v: &Positioned<V>| &v.node) {
        Some(V::Boolean(true)) => true,
        Some(V::Variable(name)) => matches!(variables.get(name), Some(Value::Boolean(true))),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(text: &str, nesting: usize, aliases: usize) -> Option<Value> {
        let limits = Limits { nesting, aliases, ..Limits::default() };
        check_text(text, &limits).err().and_then(|e| e.extensions.unwrap().get("limit").cloned())
    }

    #[test]
    fn nesting_skips_strings_and_comments() {
        assert_eq!(limit("{ a(b: \"{{{{{{\") }", 3, 100), None);
        assert_eq!(limit("{ a(b: \"\"\"[[[[[ \\\"\"\" (((\"\"\") }", 3, 100), None);
        assert_eq!(limit("# {{{{{{\n{ a }", 3, 100), None);
        assert_eq!(limit("{ a { b { c } } }", 3, 100), None);
        assert_eq!(limit("{ a { b { c { d } } } }", 3, 100), Some(Value::from("nesting")));
    }

    #[test]
    fn aliases_are_counted_before_parsing_per_definition() {
        let aliases = |n: usize| (0..n).map(|i| format!("a{i}: b")).collect::<Vec<_>>().join(" ");
        assert_eq!(limit(&format!("{{ {} }}", aliases(3)), 64, 3), None);
        assert_eq!(limit(&format!("{{ {} }}", aliases(4)), 64, 3), Some(Value::from("aliases")));
        // Colons of arguments, variables, input objects, strings and comments are no aliases.
        let text = "query Q($v: [Int!] = [1]) { a(w: {x: {y: 1}}, s: \"k: v\") { b } # c: d\n }";
        assert_eq!(limit(text, 64, 0), None);
        // Each operation and fragment is counted alone, as the document's check counts each operation.
        let two = format!("query A {{ {} }} query B {{ {} }}", aliases(3), aliases(3));
        assert_eq!(limit(&two, 64, 3), None);
        let fragment = format!("{{ ...F }} fragment F on Query {{ {} }}", aliases(4));
        assert_eq!(limit(&fragment, 64, 3), Some(Value::from("aliases")));
        // Whatever this refuses, the parsed document's own check refuses too.
        let limits = Limits { aliases: 3, ..Limits::default() };
        let document = async_graphql::parser::parse_query(format!("{{ {} }}", aliases(4))).unwrap();
        assert!(limits.check_document(&document, &Variables::default()).is_err());
    }

    fn depth(text: &str) -> usize {
        let document = async_graphql::parser::parse_query(text).unwrap();
        Walk::new(&document, &Limits::default()).depth()
    }

    #[test]
    fn depth_counts_fields_with_fragments_read_where_spread() {
        assert_eq!(depth("{ a }"), 1);
        assert_eq!(depth("{ a { b { c } } d }"), 3);
        // Inline fragments add no level; a spread adds its fragment's depth where it is spread.
        assert_eq!(depth("{ a { ... on T { b { c } } } }"), 3);
        assert_eq!(depth("{ a { ...F } } fragment F on T { b { c { d } } }"), 4);
        // Every operation counts, and a cycle (which validation refuses) ends.
        assert_eq!(depth("query A { a } query B { a { b } }"), 2);
        assert_eq!(depth("{ a { ...F } } fragment F on T { b { ...F } }"), 2);
    }
}
