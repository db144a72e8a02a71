// Package comment reads the decision grammar of an approval issue comment
// (contract §3): which decision it gives, which fields it sets and what free
// text it carries. It is pure and does no I/O; the fields package checks and
// types the raw values afterwards, so this package never imports it.
//
// The grammar, line by line (a line ends at "\n", "\r\n" or "\r"):
//
//   - Quoted lines, whose first non-space character is '>', are ignored
//     everywhere, so a reply that quotes the gate before answering works.
//   - HTML comments at the start of a line are hidden, as GitHub hides them:
//     a line that is only HTML comments is ignored, and a comment opened at
//     the start of a line hides everything up to the line holding "-->".
//     Text after the closing "-->" is read as the line.
//   - The first line left that is not blank decides. It must be a decision
//     word as a whole: compared case-insensitively (Unicode simple folding),
//     with runs of spaces collapsed, an optional leading '/' and an optional
//     run of trailing '.' and '!'. Words are literal text, never patterns.
//     Any other first line makes the comment discussion, which is ignored.
//   - After it, a line "<field id>: <value>" whose id (compared
//     case-insensitively) is one of the gate's fields sets that field to the
//     trimmed value; the value may hold colons. A field given twice keeps its
//     first value and is reported as a problem.
//   - Every other line is free text. The free text keeps its line breaks,
//     collapses runs of blank lines to one and is trimmed.
//
// A value cannot span lines. The grammar does not look inside Markdown
// code blocks: a "<field id>: <value>" line in one still sets the field.
// Parse runs in time linear in the size of the comment.
package comment
