// The Chinese names of an application's status and review step, and of the self-test's categories.
//
// The API names them itself (status_name, step_name: models/relief/applying.py and records.py) and
// the worker's notices use the same words, so the pages show the server's names first; the tables
// here are for an answer that lacks them (an older server).

const STATUS = {
  draft: '草稿',
  submitted: '审核中',
  returned: '退回补充',
  rejected: '未通过',
  withdrawn: '已撤回',
  paid: '已发放',
  archived: '已归档',
}

const STEP = {
  verification: '入户核实',
  county_review: '审核',
  collective_review: '集体评议',
  notice: '公示',
  approval: '审批',
  payment: '发放',
  archived: '归档',
}

const CATEGORY = {deep: '深度困难', relative: '相对困难', accident: '意外致困'}
const NO_CATEGORY = '暂不符合'

// Review steps in order; an application may be withdrawn before approval (docs/api.md).
const STEPS = ['verification', 'county_review', 'collective_review', 'notice', 'approval', 'payment', 'archived']

function statusName(app) {
  return (app && app.status_name) || STATUS[app && app.status] || (app && app.status) || ''
}

function stepName(app) {
  if (!app || !app.step) return ''
  return app.step_name || STEP[app.step] || app.step
}

/** "审核中 · 基层核实", "草稿", "退回补充". */
function statusText(app) {
  const status = statusName(app)
  if (app && app.status === 'submitted' && app.step) return status + ' · ' + stepName(app)
  return status
}

/** The tag's colour class for a status. */
function statusTone(status) {
  if (status === 'returned' || status === 'rejected') return 'tag--warn'
  if (status === 'paid' || status === 'archived') return 'tag--ok'
  return ''
}

function categoryName(category) {
  return category ? CATEGORY[category] || category : NO_CATEGORY
}

/** Whether the worker may still withdraw it: a draft, submitted before approval, or returned. */
function withdrawable(app) {
  if (!app || ['draft', 'submitted', 'returned'].indexOf(app.status) < 0) return false
  if (!app.step) return true
  const at = STEPS.indexOf(app.step)
  return at >= 0 && at < STEPS.indexOf('approval')
}

const OTHER_ITEMS = {household: '家庭成员信息', other: '其他'}

/**
 * What the codes of a kind are called: a form field's title, a proof's name, a group of proofs as
 * its alternatives, `household` and `other` (the items staff name when they return an application).
 */
function itemNames(kind) {
  const names = Object.assign({}, OTHER_ITEMS)
  if (!kind) return names
  const props = (kind.fields && kind.fields.properties) || {}
  Object.keys(props).forEach((name) => {
    names[name] = props[name].title || name
  })
  const groups = {}
  ;(kind.proofs || []).forEach((p) => {
    names[p.type] = p.name
    if (p.group) groups[p.group] = (groups[p.group] || []).concat([p.name])
  })
  Object.keys(groups).forEach((g) => {
    names[g] = groups[g].join('或')
  })
  return names
}

module.exports = {STATUS, STEP, CATEGORY, NO_CATEGORY, statusName, stepName, statusText, statusTone, categoryName, withdrawable, itemNames}
