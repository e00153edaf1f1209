// A kind's form is published as JSON Schema (GET /relief/kinds → items[].fields): a flat object of
// typed properties, each with a Chinese `title` (models/relief/forms.py keeps kinds to that subset).
// This module turns the schema into the fields the apply page draws, checks what the worker typed
// the way the server will (required, minimum/maximum, minLength/maxLength, enum, format, pattern),
// and turns the typed text back into the form's JSON values. Pure functions: no wx, no network.
//
// Conventions of the schemas (see models/relief/presets.py):
// - money is an integer with `x-unit: "fen"`: typed in yuan ("12.50"), sent in fen (1250);
// - other `x-unit`s (person, year, month, day) are shown after the input (人, 年, 月, 天);
// - a string with `enum` has its Chinese names in `x-labels`; `format: "date"` is YYYY-MM-DD,
//   `format: "digits"` digits only (a bank account);
// - a long string (maxLength above TEXTAREA_FROM) is free text in a textarea.

const format = require('../../utils/format')

const UNIT_LABELS = {fen: '元', person: '人', year: '年', month: '个月', day: '天'}
const TEXTAREA_FROM = 100
const DATE = /^\d{4}-\d{2}-\d{2}$/

function isMoney(prop) {
  return !!prop && prop.type === 'integer' && prop['x-unit'] === 'fen'
}

/** What kind of control a property gets: text, textarea, integer, number, money, enum, date, boolean. */
function widgetOf(prop) {
  if (!prop) return 'text'
  if (prop.type === 'boolean') return 'boolean'
  if (prop.type === 'integer') return isMoney(prop) ? 'money' : 'integer'
  if (prop.type === 'number') return 'number'
  if (Array.isArray(prop.enum)) return 'enum'
  if (prop.format === 'date') return 'date'
  if ((prop.maxLength || 0) > TEXTAREA_FROM) return 'textarea'
  return 'text'
}

/** The keyboard an <input> shows for a field. */
function inputType(name, prop, widget) {
  if (widget === 'money' || widget === 'number') return 'digit'
  if (widget === 'integer') return 'number'
  if (/id_number$/.test(name)) return 'idcard'
  if (prop && prop.format === 'digits') return 'number'
  return 'text'
}

function labelsOf(prop) {
  const labels = prop['x-labels'] || {}
  return prop.enum.map((code) => String(labels[code] || code))
}

function yuanText(fen) {
  return format.yuan(fen)
}

/** A short hint under the field: its unit, its limits, its description. */
function hintOf(prop, widget) {
  const parts = []
  if (prop.description) parts.push(prop.description)
  if (widget === 'money' && typeof prop.maximum === 'number') parts.push('单位：元，最多 ' + yuanText(prop.maximum) + ' 元')
  else if (widget === 'money') parts.push('单位：元')
  if ((widget === 'text' || widget === 'textarea') && prop.maxLength) {
    parts.push(prop.minLength ? `${prop.minLength}–${prop.maxLength} 字` : `最多 ${prop.maxLength} 字`)
  }
  if (prop.format === 'digits') parts.push('只填数字')
  return parts.join('；')
}

/** The text a control shows for a stored JSON value. */
function displayOf(widget, prop, value) {
  if (value === undefined || value === null) return widget === 'boolean' ? false : ''
  if (widget === 'boolean') return value === true
  if (widget === 'money') return typeof value === 'number' ? yuanText(value) : String(value)
  return String(value)
}

/**
 * The fields of a form schema, in the schema's order, each ready for the page:
 * {name, title, widget, inputType, required, value, options, index, unit, hint, maxlength, error}.
 * `values` (a saved form) fills them in.
 */
function fieldsOf(schema, values = {}) {
  const props = (schema && schema.properties) || {}
  const required = new Set((schema && schema.required) || [])
  return Object.keys(props).map((name) => {
    const prop = props[name] || {}
    const widget = widgetOf(prop)
    const field = {
      name,
      title: String(prop.title || name),
      widget,
      inputType: inputType(name, prop, widget),
      required: required.has(name),
      value: displayOf(widget, prop, values[name]),
      options: [],
      index: -1,
      unit: UNIT_LABELS[prop['x-unit']] || '',
      hint: hintOf(prop, widget),
      maxlength: prop.maxLength || (widget === 'money' ? 16 : 140),
      error: '',
    }
    if (widget === 'enum') {
      field.options = labelsOf(prop)
      field.index = prop.enum.indexOf(values[name])
      field.value = field.index >= 0 ? field.options[field.index] : ''
      if (!field.required) field.options = field.options.concat(['（不填）'])
    }
    return field
  })
}

function blank(widget, text) {
  if (widget === 'boolean') return false
  return text === undefined || text === null || String(text).trim() === ''
}

function numberLimits(prop, value, title, money) {
  const show = (n) => (money ? yuanText(n) : String(n))
  const unit = money ? ' 元' : ''
  const low = typeof prop.minimum === 'number' ? prop.minimum : null
  const high = typeof prop.maximum === 'number' ? prop.maximum : null
  if (low !== null && high !== null && (value < low || value > high)) return `${title}应在 ${show(low)}–${show(high)}${unit} 之间`
  if (low !== null && value < low) return `${title}不能少于 ${show(low)}${unit}`
  if (high !== null && value > high) return `${title}不能超过 ${show(high)}${unit}`
  return ''
}

function realDate(text) {
  if (!DATE.test(text)) return false
  const [y, m, d] = text.split('-').map(Number)
  const day = new Date(Date.UTC(y, m - 1, d))
  return day.getUTCFullYear() === y && day.getUTCMonth() === m - 1 && day.getUTCDate() === d
}

/**
 * One field's JSON value from what was typed: {value} or {error} (Chinese, naming the field).
 * A blank field is {value: null} (or an error when `complete` and it is required).
 */
function valueOf(name, prop, field, complete) {
  const title = String(prop.title || name)
  const widget = widgetOf(prop)
  if (widget === 'boolean') return {value: field.value === true}
  if (widget === 'enum') {
    const index = field.index
    if (index === undefined || index < 0 || index >= prop.enum.length) {
      return complete && field.required ? {error: `请选择${title}`} : {value: null}
    }
    return {value: prop.enum[index]}
  }
  const text = field.value === undefined || field.value === null ? '' : String(field.value)
  if (blank(widget, text)) return complete && field.required ? {error: `请填写${title}`} : {value: null}
  const trimmed = text.trim()
  if (widget === 'money') {
    const fen = format.toFen(trimmed)
    if (fen === null) return {error: `${title}请填写金额，如 1200 或 1200.50`}
    const problem = numberLimits(prop, fen, title, true)
    return problem ? {error: problem} : {value: fen}
  }
  if (widget === 'integer' || widget === 'number') {
    const pattern = widget === 'integer' ? /^-?\d+$/ : /^-?\d+(\.\d+)?$/
    if (!pattern.test(trimmed)) return {error: `${title}请填写${widget === 'integer' ? '整数' : '数字'}`}
    const n = Number(trimmed)
    const problem = numberLimits(prop, n, title, false)
    return problem ? {error: problem} : {value: n}
  }
  // strings: the server counts minLength on the trimmed text and maxLength on the whole
  if (typeof prop.minLength === 'number' && trimmed.length < prop.minLength) {
    return {error: `${title}至少 ${prop.minLength} 字`}
  }
  if (typeof prop.maxLength === 'number' && text.length > prop.maxLength) {
    return {error: `${title}最多 ${prop.maxLength} 字`}
  }
  if (prop.format === 'date' && !realDate(trimmed)) return {error: `${title}应为日期（年-月-日）`}
  if (prop.format === 'digits' && !/^\d+$/.test(trimmed)) return {error: `${title}只能填写数字`}
  if (typeof prop.pattern === 'string') {
    let re = null
    try {
      re = new RegExp(prop.pattern, 'u')
    } catch (e) {
      re = null // a pattern this phone cannot run: the server checks it
    }
    if (re && !re.test(text)) return {error: `${title}格式不正确`}
  }
  return {value: text}
}

/**
 * Check the page's fields against the schema. `complete` (submitting) also requires the required
 * fields. Resolves {values, errors}: `values` the form's JSON (blank fields as null, the way PATCH
 * removes them; fields in error left out), `errors` {name: message}.
 */
function collect(schema, fields, {complete = false} = {}) {
  const props = (schema && schema.properties) || {}
  const values = {}
  const errors = {}
  fields.forEach((field) => {
    const prop = props[field.name]
    if (!prop) return
    const outcome = valueOf(field.name, prop, field, complete)
    if (outcome.error) errors[field.name] = outcome.error
    else values[field.name] = outcome.value
  })
  return {values, errors}
}

/**
 * The required proofs not yet given, as {key: message} (key: the proof type, or the group of
 * alternatives where any one will do), the way the server counts them (models/relief/proofs.py).
 */
function missingProofs(proofs, have) {
  const types = new Set(have)
  const out = {}
  const groups = {}
  ;(proofs || []).forEach((p) => {
    if (p.group) {
      groups[p.group] = groups[p.group] || {types: [], names: [], required: false}
      groups[p.group].types.push(p.type)
      groups[p.group].names.push(p.name)
      groups[p.group].required = groups[p.group].required || p.required !== false
    } else if (p.required !== false && !types.has(p.type)) {
      out[p.type] = '请上传' + p.name
    }
  })
  Object.keys(groups).forEach((group) => {
    const g = groups[group]
    if (g.required && !g.types.some((t) => types.has(t))) out[group] = '请上传' + g.names.join('或')
  })
  return out
}

module.exports = {isMoney, widgetOf, fieldsOf, collect, valueOf, missingProofs, UNIT_LABELS}
