// Small helpers for the text of rules and alerts.
{
  // A ||| block as one line: its lines joined with single spaces, so that
  // long descriptions read well in the source and render as one paragraph.
  oneLine(text):: std.join(' ', std.filter(function(line) line != '', std.split(text, '\n'))),

  // An expression as it is written into the rule files: always ending with a
  // newline, so that YAML shows every one as a block, quotes unescaped.
  expr(text):: if std.endsWith(text, '\n') then text else text + '\n',
}
