// Display helpers: money is integer fen everywhere in the API; people read yuan.

/** 1234 → "12.34"; -50 → "-0.50". */
function yuan(fen) {
  const n = Number(fen) || 0
  const sign = n < 0 ? '-' : ''
  const abs = Math.abs(Math.round(n))
  const cents = String(abs % 100).padStart(2, '0')
  return sign + Math.floor(abs / 100) + '.' + cents
}

/** "12.34" or "12" (what a person types) → 1234 fen; null when it is not an amount. */
function toFen(text) {
  const value = String(text == null ? '' : text).trim()
  if (!/^\d{1,9}(\.\d{0,2})?$/.test(value)) return null
  const [whole, part = ''] = value.split('.')
  return Number(whole) * 100 + Number((part + '00').slice(0, 2))
}

/** An ISO time as "2026-12-05 16:52" in the phone's local time. */
function dateTime(iso) {
  if (!iso) return ''
  const d = new Date(iso)
  if (isNaN(d.getTime())) return String(iso)
  const pad = (x) => String(x).padStart(2, '0')
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`
}

/** An ISO time or date as "2026-12-05". */
function date(iso) {
  return dateTime(iso).slice(0, 10)
}

/** A file's size in bytes as "120 KB" or "1.5 MB"; '' when unknown. */
function fileSize(bytes) {
  const n = Number(bytes)
  if (bytes === null || bytes === undefined || !(n >= 0)) return ''
  if (n < 1024 * 1024) return Math.max(1, Math.round(n / 1024)) + ' KB'
  return (n / (1024 * 1024)).toFixed(1) + ' MB'
}

module.exports = {yuan, toFen, dateTime, date, fileSize}
