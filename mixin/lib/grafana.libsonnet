// Just enough of Grafana's dashboard model for one dashboard, in plain
// jsonnet (no grafonnet: the mixin renders with nothing but `jsonnet`).
// Panels are built without ids or positions; layout() numbers them and
// places them row by row.
{
  datasource:: { type: 'prometheus', uid: '${datasource}' },

  // One query. Grafana names them A, B, C… in panel order (see panel()).
  target(expr, legend, extra={}):: {
    datasource: $.datasource,
    expr: expr,
    legendFormat: legend,
  } + extra,

  // An instant query, for panels that show one value per series.
  instantTarget(expr, legend):: $.target(expr, legend, { instant: true, range: false }),

  local panel(type, title, description, unit, targets) = {
    type: type,
    title: title,
    description: std.join(' ', std.filter(function(l) l != '', std.split(description, '\n'))),
    datasource: $.datasource,
    targets: std.mapWithIndex(function(i, t) t { refId: std.char(std.codepoint('A') + i) }, targets),
    fieldConfig: { defaults: { unit: unit }, overrides: [] },
  },

  timeseries(title, description, unit, targets):: panel('timeseries', title, description, unit, targets) {
    fieldConfig+: { defaults+: { custom: { lineWidth: 1, fillOpacity: 0, showPoints: 'never' } } },
    options: {
      legend: { displayMode: 'table', placement: 'bottom', calcs: ['lastNotNull', 'max'] },
      tooltip: { mode: 'multi', sort: 'desc' },
    },
  },

  // Series whose display name matches `regexp` get these field properties.
  override(regexp, properties):: {
    fieldConfig+: { overrides+: [{ matcher: { id: 'byRegexp', options: regexp }, properties: properties }] },
  },
  // Stacked areas (a whole split into its parts, e.g. lateness by cause).
  stacked:: {
    fieldConfig+: { defaults+: { custom+: { stacking: { mode: 'normal', group: 'A' }, fillOpacity: 60 } } },
  },
  // Values shown as words, e.g. { '0': ['unavailable', 'red'] }.
  valueText(texts):: {
    fieldConfig+: {
      defaults+: {
        mappings: [{
          type: 'value',
          options: { [value]: { text: texts[value][0], color: texts[value][1], index: i }
                     for i in std.range(0, std.length(std.objectFields(texts)) - 1)
                     for value in [std.objectFields(texts)[i]] },
        }],
        color: { mode: 'thresholds' },
      },
    },
    options+: { colorMode: 'background' },
  },
  dashed:: { id: 'custom.lineStyle', value: { dash: [10, 10], fill: 'dash' } },
  color(color):: { id: 'color', value: { mode: 'fixed', fixedColor: color } },

  stat(title, description, unit, targets, textMode='value'):: panel('stat', title, description, unit, targets) {
    fieldConfig+: { defaults+: { color: { mode: 'fixed', fixedColor: 'blue' } } },
    options: {
      reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false },
      textMode: textMode,
      colorMode: 'none',
      graphMode: 'none',
      justifyMode: 'auto',
      orientation: 'auto',
    },
  },

  // Horizontal bars, one per series of an instant query, in the order the
  // query returns them (topk: largest first).
  bargauge(title, description, unit, targets):: panel('bargauge', title, description, unit, targets) {
    fieldConfig+: {
      defaults+: {
        min: 0,
        color: { mode: 'continuous-GrYlRd' },
      },
    },
    options: {
      reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false },
      orientation: 'horizontal',
      displayMode: 'gradient',
      valueMode: 'color',
      showUnfilled: true,
      namePlacement: 'left',
      sizing: 'auto',
    },
  },

  // Prometheus histogram buckets (one query, format heatmap) as a heatmap:
  // y is the bucket's upper bound in `yUnit`, a cell's colour its rate in
  // `cellUnit`. Empty buckets are left blank.
  heatmap(title, description, yUnit, cellUnit, targets):: panel('heatmap', title, description, yUnit, targets) {
    targets: [t { format: 'heatmap' } for t in super.targets],
    fieldConfig+: { defaults+: { custom: { scaleDistribution: { type: 'linear' } } } },
    options: {
      calculate: false,
      cellGap: 1,
      cellValues: { unit: cellUnit },
      color: { mode: 'scheme', scheme: 'Oranges', scale: 'exponential', exponent: 0.5 },
      filterValues: { le: 1e-9 },
      yAxis: { unit: yUnit, axisPlacement: 'left' },
      rowsFrame: { layout: 'le' },
      tooltip: { mode: 'single', yHistogram: true, showColorScale: true },
      legend: { show: true },
    },
  },

  // One panel per selected value of `variable`, side by side.
  repeat(variable, maxPerRow):: { repeat: variable, repeatDirection: 'h', maxPerRow: maxPerRow },

  // A row of the dashboard: its panels as [panel, width, height], placed
  // left to right and wrapped at the dashboard's 24 columns. A collapsed
  // row carries its panels inside it, as Grafana stores them.
  row(title, panels, collapsed=false):: { title: title, panels: panels, collapsed: collapsed },

  // The rows as Grafana's flat, positioned list of panels with ids.
  layout(rows)::
    local place(state, item) =
      local panel = item[0], w = item[1], h = item[2];
      local wrap = state.x + w > 24;
      local x = if wrap then 0 else state.x;
      local y = if wrap then state.y + state.h else state.y;
      state {
        x: x + w,
        y: y,
        h: if wrap then h else std.max(state.h, h),
        id: state.id + 1,
        panels+: [panel { id: state.id, gridPos: { h: h, w: w, x: x, y: y } }],
      };
    local addRow(state, row) =
      local header = { type: 'row', title: row.title, collapsed: row.collapsed, id: state.id, gridPos: { h: 1, w: 24, x: 0, y: state.y } };
      local inner = std.foldl(place, row.panels, { x: 0, y: state.y + 1, h: 0, id: state.id + 1, panels: [] });
      local end = inner.y + inner.h;
      if row.collapsed then
        state { y: state.y + 1, id: inner.id, panels+: [header { panels: inner.panels }] }
      else
        state { y: end, id: inner.id, panels+: [header { panels: [] }] + inner.panels };
    std.foldl(addRow, rows, { y: 0, id: 1, panels: [] }).panels,
}
