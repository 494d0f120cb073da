// JSON and YAML text for the rendered files. jsonnet 0.18's own
// std.manifestJsonEx and std.manifestYamlDoc escape strings one character
// at a time and take seconds per file; these escape with std.strReplace,
// which is native. They also put the keys a reader looks for first (an
// alert's name, then its expression) before the rest, which stay sorted.
local order = [
  'name', 'alert', 'record', 'expr', 'for', 'labels', 'annotations',
  'apiVersion', 'kind', 'metadata', 'spec', 'job_name',
  'id', 'type', 'title', 'uid',
];
local fields(object) =
  [key for key in order if std.objectHas(object, key)]
  + [key for key in std.objectFields(object) if std.length(std.find(key, order)) == 0];

// Our texts carry no control characters but newlines and tabs.
local quote(string) =
  '"' + std.strReplace(std.strReplace(std.strReplace(std.strReplace(
    string, '\\', '\\\\'), '"', '\\"'), '\n', '\\n'), '\t', '\\t') + '"';

local empty(value) = (std.isObject(value) || std.isArray(value)) && std.length(value) == 0;

local scalar(value) =
  if std.isString(value) then quote(value)
  else if value == null then 'null'
  else if std.isObject(value) then '{}'
  else if std.isArray(value) then '[]'
  else std.toString(value);

// A YAML key bare unless it holds a character YAML could read as syntax.
// (Tested with std.split, which is native; std.findSubstr is not.)
local special = ['[', ']', '{', '}', ':', '#', ',', '&', '*', '!', '|', '>', "'", '"', '%', '@', '`', ' ', '?'];
local yamlKey(key) =
  if std.length([c for c in special if std.length(std.split(key, c)) > 1]) == 0 && key != ''
  then key else quote(key);

// A string of whole lines (one final newline, no leading blank) as a
// literal block, so expressions keep their lines and their quotes unescaped.
local block(string) =
  std.isString(string) && std.endsWith(string, '\n') && !std.endsWith(string, '\n\n')
  && std.length(string) > 1 && string[0] != ' ' && string[0] != '\n';

local yamlScalar(value, indent) =
  if block(value) then
    '|\n' + std.join('\n', [
      if line == '' then '' else indent + line
      for line in std.split(std.substr(value, 0, std.length(value) - 1), '\n')
    ])
  else scalar(value);

{
  json(value, indent='')::
    local inner = indent + '  ';
    if empty(value) || !(std.isObject(value) || std.isArray(value)) then scalar(value)
    else if std.isArray(value) then
      '[\n' + std.join(',\n', [inner + $.json(item, inner) for item in value]) + '\n' + indent + ']'
    else
      '{\n' + std.join(',\n', [inner + quote(key) + ': ' + $.json(value[key], inner) for key in fields(value)])
      + '\n' + indent + '}',

  // Block style throughout; arrays inside a mapping are indented. The
  // first line starts with `first` (after "- ", the rest with `indent`).
  yaml(value, indent='', first=indent)::
    local after(item, indent) =
      if empty(item) || !(std.isObject(item) || std.isArray(item)) then ' ' + yamlScalar(item, indent + '  ')
      else '\n' + $.yaml(item, indent + '  ');
    local lines(items) = std.join('\n', std.mapWithIndex(function(i, line) (if i == 0 then first else indent) + line, items));
    if std.isObject(value) && !empty(value) then
      lines([yamlKey(key) + ':' + after(value[key], indent) for key in fields(value)])
    else if std.isArray(value) && !empty(value) then
      lines([
        '- ' + (
          if (std.isObject(item) || std.isArray(item)) && !empty(item)
          then $.yaml(item, indent + '  ', '')
          else yamlScalar(item, indent + '  ')
        )
        for item in value
      ])
    else first + yamlScalar(value, indent),
}
