// What the cashier's pages share: who this phone works for at the counter (kept after binding),
// the open scan handed from the counter page to the bill page, and the words a cashier needs.
//
// Nothing here is logged. The scan kept on the phone holds the scan id (usable only by this
// cashier, for a few minutes), the holder's masked name, the card's status and its benefits:
// never the QR text or an ID number.

const api = require('../../utils/api')

const MERCHANT_KEY = 'unionaid.merchant'
const SCAN_KEY = 'unionaid.merchant.scan'
const REDEMPTION_KEY = 'unionaid.merchant.redemption'

// Category codes of the API's bills (models/partners/rules.py CATEGORIES), as the cashier reads them.
const CATEGORY_LABELS = {
  drug: '药品',
  registration: '挂号费',
  outpatient: '门诊诊疗',
  large_exam: '大型设备检查',
  bed: '床位费',
  exam: '检查费',
  treatment: '治疗费',
  surgery: '手术费',
  daily_goods: '日用品',
  food: '食品',
  tobacco_alcohol: '烟酒',
  tuition: '学杂费',
  other: '其他',
}

const ROLE_LABELS = {cashier: '收银员', manager: '商家管理员'}

const CARD_STATUS = {active: '正常', frozen: '已冻结', lost: '已挂失', cancelled: '已注销'}

// What the cashier does after each refusal at the counter (the API's own message is shown first).
const NEXT_STEP = {
  qr_invalid: '请核对后重新扫码；实体卡可手工输入卡上的码。',
  qr_expired: '请持卡人在手机上刷新二维码后重新扫码。',
  qr_used: '请持卡人在手机上刷新二维码后重新扫码。',
  qr_outdated: '服务卡已变更，请持卡人打开最新的服务卡后重新扫码。',
  card_frozen: '此卡暂不能使用，请按原价结算，并请持卡人联系所在工会。',
  card_lost: '此卡已挂失，请按原价结算，并请持卡人联系所在工会。',
  card_cancelled: '此卡已注销，请按原价结算。',
  card_locked: '请稍后再试，或请持卡人出示手机上的服务卡。',
  id_last4_wrong: '请核对持卡人身份证号后四位后重新输入。',
  id_last4_required: '请输入持卡人身份证号后四位。',
  scan_expired: '请重新扫码。',
  scan_not_found: '请重新扫码。',
  no_benefit: '本次请按原价结算；如需再次优惠，请持卡人刷新后重新扫码。',
  merchant_suspended: '请联系工会了解合作情况。',
  agreement_not_in_force: '请联系工会续签合作协议。',
  not_cashier: '请用邀请码重新绑定。',
}

function nextStep(code) {
  return NEXT_STEP[code] || ''
}

function categoryLabel(code) {
  return CATEGORY_LABELS[code] || code
}

/** The merchant, store and role this phone works for, or null before binding. */
function merchant() {
  try {
    return wx.getStorageSync(MERCHANT_KEY) || null
  } catch (e) {
    return null
  }
}

function saveMerchant(value) {
  wx.setStorageSync(MERCHANT_KEY, value)
}

/** Who this phone works for, asked of the server every time (GET /merchant/me), kept as the note above. */
function askMerchant() {
  return api.get('/merchant/me').then((me) => {
    saveMerchant({merchant: me.merchant, store: me.store, role: me.role})
    return me
  })
}

function forgetMerchant() {
  try {
    wx.removeStorageSync(MERCHANT_KEY)
  } catch (e) {
    // nothing kept
  }
}

/** Keep the scan the counter page opened, for the bill page (in memory and in storage). */
let lastScan = null
function saveScan(scan) {
  lastScan = scan
  wx.setStorageSync(SCAN_KEY, scan)
}

/** The kept scan with this id, or null. */
function scanOf(scanId) {
  let scan = lastScan
  if (!scan || scan.scan_id !== scanId) {
    try {
      scan = wx.getStorageSync(SCAN_KEY) || null
    } catch (e) {
      scan = null
    }
  }
  return scan && scan.scan_id === scanId ? scan : null
}

function forgetScan() {
  lastScan = null
  try {
    wx.removeStorageSync(SCAN_KEY)
  } catch (e) {
    // nothing kept
  }
}

/** Whether this phone works for the merchant as its manager (kept by the counter page, asked every time). */
function isManager() {
  const kept = merchant()
  return !!kept && kept.role === 'manager'
}

/**
 * Keep the redemption a manager picked in today's list (or found by its number), for the refund page
 * (in memory and in storage): the bill shown is this copy; the page reads it by its number only when
 * none is kept.
 */
let lastRedemption = null
function saveRedemption(redemption) {
  lastRedemption = redemption
  try {
    wx.setStorageSync(REDEMPTION_KEY, redemption)
  } catch (e) {
    // kept in memory only
  }
}

/** The kept redemption with this id, or null. */
function redemptionOf(id) {
  const wanted = Number(id)
  let found = null
  try {
    found = wx.getStorageSync(REDEMPTION_KEY) || null
  } catch (e) {
    found = null
  }
  if (!found) found = lastRedemption // storage full or unavailable
  return found && found.id === wanted ? found : null
}

/** Whether the text is a redemption's number as the server takes it in a path: a positive integer of at most 16 digits. */
function isRedemptionNumber(text) {
  return /^[1-9][0-9]{0,15}$/.test(String(text))
}

module.exports = {
  MERCHANT_KEY,
  SCAN_KEY,
  REDEMPTION_KEY,
  CATEGORY_LABELS,
  ROLE_LABELS,
  CARD_STATUS,
  nextStep,
  categoryLabel,
  merchant,
  saveMerchant,
  askMerchant,
  forgetMerchant,
  saveScan,
  scanOf,
  forgetScan,
  isManager,
  saveRedemption,
  redemptionOf,
  isRedemptionNumber,
}
