// The form a kind publishes as JSON Schema, drawn and checked on the phone the way the server checks it.
require('../helpers/pages') // miniprogram-simulate defines the global wx the helpers expect
const formSchema = require('../../miniprogram/pages/relief/form-schema')
const F = require('./relief-fixtures')

const SCHEMA = F.TEMPORARY.fields

function filled(schema, typed) {
  return formSchema.fieldsOf(schema).map((f) => Object.assign(f, typed[f.name] || {}))
}

test('each property becomes the control its type calls for, in order, required ones marked', () => {
  const fields = formSchema.fieldsOf(SCHEMA)
  expect(fields.map((f) => [f.name, f.widget, f.required])).toEqual([
    ['event', 'enum', true],
    ['event_date', 'date', true],
    ['loss', 'money', false],
    ['situation', 'textarea', true],
    ['bank_account', 'text', false],
  ])
  expect(fields[0].options).toEqual(['突发疾病', '意外事故', '自然灾害', '其他'])
  expect(fields[2].unit).toBe('元')
  expect(fields[2].inputType).toBe('digit')
  expect(fields[4].inputType).toBe('number')
  const more = formSchema.fieldsOf({
    type: 'object',
    properties: {
      enrolled_year: {type: 'integer', title: '入学年份', minimum: 2000, maximum: 2100, 'x-unit': 'year'},
      student_id_number: {type: 'string', title: '学生身份证号', maxLength: 18, minLength: 18},
      inpatient: {type: 'boolean', title: '是否住院'},
      stage: {type: 'string', title: '学段', maxLength: 40, enum: ['university'], 'x-labels': {university: '大学'}},
    },
  })
  expect(more.map((f) => f.widget)).toEqual(['integer', 'text', 'boolean', 'enum'])
  expect(more[0].unit).toBe('年')
  expect(more[1].inputType).toBe('idcard')
  // an optional choice can be left blank
  expect(more[3].options).toEqual(['大学', '（不填）'])
})

test('money is typed in yuan and sent in fen; a saved form shows in yuan again', () => {
  const fields = filled(SCHEMA, {loss: {value: '1234.5'}})
  expect(formSchema.collect(SCHEMA, fields).values.loss).toBe(123450)
  const again = formSchema.fieldsOf(SCHEMA, {loss: 123450, event: 'disaster', event_date: '2026-11-20'})
  expect(again.find((f) => f.name === 'loss').value).toBe('1234.50')
  expect(again.find((f) => f.name === 'event')).toMatchObject({index: 2, value: '自然灾害'})
  expect(formSchema.collect(SCHEMA, again).values).toMatchObject({loss: 123450, event: 'disaster', event_date: '2026-11-20'})
})

test('submitting requires the required fields; a draft does not, and blank fields are null', () => {
  const fields = formSchema.fieldsOf(SCHEMA)
  const strict = formSchema.collect(SCHEMA, fields, {complete: true})
  expect(strict.errors).toEqual({event: '请选择突发事件', event_date: '请填写发生日期', situation: '请填写困难情况说明'})
  const loose = formSchema.collect(SCHEMA, fields, {complete: false})
  expect(loose.errors).toEqual({})
  expect(loose.values).toEqual({event: null, event_date: null, loss: null, situation: null, bank_account: null})
})

test('limits, lengths, dates, digits and patterns are checked with Chinese messages', () => {
  const fields = filled(SCHEMA, {
    loss: {value: '12.345'},
    situation: {value: '  太短  '},
    event_date: {value: '2026-02-30'},
    bank_account: {value: '6222 0000'},
  })
  const {errors} = formSchema.collect(SCHEMA, fields)
  expect(errors.loss).toBe('损失或支出金额请填写金额，如 1200 或 1200.50')
  expect(errors.situation).toBe('困难情况说明至少 10 字')
  expect(errors.event_date).toBe('发生日期应为日期（年-月-日）')
  expect(errors.bank_account).toBe('收款银行账号只能填写数字')

  const capped = {type: 'object', properties: {
    n: {type: 'integer', title: '人数', minimum: 1, maximum: 20},
    m: {type: 'integer', title: '金额', minimum: 0, maximum: 100000, 'x-unit': 'fen'},
    p: {type: 'string', title: '邮编', maxLength: 6, pattern: '^\\d{6}$'},
    e: {type: 'string', title: '类别', maxLength: 40, enum: ['a'], 'x-labels': {a: '甲'}},
  }, required: ['e']}
  const bad = formSchema.collect(capped, filled(capped, {n: {value: '21'}, m: {value: '1000.01'}, p: {value: '12345'}}), {complete: true})
  expect(bad.errors).toEqual({
    n: '人数应在 1–20 之间',
    m: '金额应在 0.00–1000.00 元 之间',
    p: '邮编格式不正确',
    e: '请选择类别',
  })
  const good = formSchema.collect(capped, filled(capped, {n: {value: '3'}, m: {value: '1000'}, p: {value: '410000'}, e: {index: 0}}), {complete: true})
  expect(good).toEqual({values: {n: 3, m: 100000, p: '410000', e: 'a'}, errors: {}})
})

test('required proofs are missing until given; a group of alternatives needs any one', () => {
  expect(formSchema.missingProofs(F.TEMPORARY.proofs, ['event_proof'])).toEqual({income_proof: '请上传家庭成员收入证明'})
  expect(formSchema.missingProofs(F.MEDICAL.proofs, [])).toEqual({medical_cost: '请上传近三个月自付医疗费用票据或医保结算单'})
  expect(formSchema.missingProofs(F.MEDICAL.proofs, ['insurance_settlement'])).toEqual({})
})
