// Canned answers of the relief routes, shaped like the real server's (models/relief/presets.py):
// the temporary kind (enum, date, money with x-unit fen, free text, a cap the worker may ask within)
// and the medical kind (two proofs that are alternatives of one group).
const CONSENT = {version: '2026-12-v1', text: '为办理您的帮扶救助申请，工会需要处理您及家庭成员的敏感个人信息……'}

const TEMPORARY = {
  code: 'temporary',
  name: '临时救助',
  description: '因突发疾病、意外事故、自然灾害等导致基本生活暂时困难的应急救助。',
  who: 'member',
  fields: {
    type: 'object',
    properties: {
      event: {type: 'string', title: '突发事件', maxLength: 40, enum: ['illness', 'accident', 'disaster', 'other'],
        'x-labels': {illness: '突发疾病', accident: '意外事故', disaster: '自然灾害', other: '其他'}},
      event_date: {type: 'string', title: '发生日期', maxLength: 10, format: 'date'},
      loss: {type: 'integer', title: '损失或支出金额', minimum: 0, maximum: 1000000000, 'x-unit': 'fen'},
      situation: {type: 'string', title: '困难情况说明', maxLength: 1000, minLength: 10},
      bank_account: {type: 'string', title: '收款银行账号', maxLength: 30, minLength: 0, format: 'digits',
        description: '本人银行卡号，不填则使用会员档案登记的账号'},
    },
    required: ['event', 'event_date', 'situation'],
    additionalProperties: false,
  },
  proofs: [
    {type: 'event_proof', name: '事故、灾害或病情证明', required: true, group: null, max_files: 10, note: null},
    {type: 'income_proof', name: '家庭成员收入证明', required: true, group: null, max_files: 5, note: '由工作单位或村（社区）出具并盖章'},
  ],
  amount: {basis: 'cap', max: 500000, text: '最高 5000.00 元'},
  frequency: {period: 'year', times: 2, per_field: null, text: '每户每年限 2 次'},
  suggest_for: ['accident', 'deep', 'relative'],
}

const MEDICAL = {
  code: 'medical',
  name: '医疗救助',
  description: '本人或家庭成员患病，医保报销后个人自付部分的救助。',
  who: 'member',
  fields: {
    type: 'object',
    properties: {
      patient: {type: 'string', title: '患者与本人关系', maxLength: 40, enum: ['self', 'spouse'], 'x-labels': {self: '本人', spouse: '配偶'}},
      self_paid: {type: 'integer', title: '医保报销后个人自付金额', minimum: 0, maximum: 1000000000, 'x-unit': 'fen'},
      inpatient: {type: 'boolean', title: '是否住院'},
    },
    required: ['patient', 'self_paid'],
    additionalProperties: false,
  },
  proofs: [
    {type: 'medical_bills', name: '近三个月自付医疗费用票据', required: true, group: 'medical_cost', max_files: 10, note: null},
    {type: 'insurance_settlement', name: '医保结算单', required: true, group: 'medical_cost', max_files: 10, note: null},
  ],
  amount: {basis: 'field', max: 1000000, field: 'self_paid', text: '不超过医保报销后个人自付金额，最高 10000.00 元'},
  frequency: {period: 'year', times: 1, per_field: null, text: '每户每年限 1 次'},
  suggest_for: ['deep', 'relative', 'accident'],
}

const KINDS = {items: [TEMPORARY, MEDICAL], consent: CONSENT}

function application(over = {}) {
  return Object.assign(
    {
      id: 7, kind: 'temporary', kind_name: '临时救助', status: 'draft', status_name: '草稿', step: null, step_name: null,
      requested_amount: null, editable: true, created_at: '2026-12-01T02:00:00Z', submitted_at: null,
      updated_at: '2026-12-01T02:00:00Z', form: {}, household: [], proofs: [], missing: null, reject_reason: null,
      consent_version: null, consented_at: null,
      timeline: [{step: null, step_name: null, action: 'created', action_name: '创建申请', unit: '东湖社区工会', comment: null, at: '2026-12-01T02:00:00Z'}],
    },
    over
  )
}

function error(status, code, message, details) {
  const body = {error: {code, message, request_id: 'test'}}
  if (details) body.error.details = details
  return {status, body}
}

module.exports = {CONSENT, TEMPORARY, MEDICAL, KINDS, application, error}
