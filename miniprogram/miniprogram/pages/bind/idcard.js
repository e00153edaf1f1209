// The shape of a mainland resident ID number (GB 11643-1999), checked on the phone before it is
// sent, so a typo reads as a typo. The server alone says whether the person is on the roster.
// Nothing here keeps or logs the number.

const WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
const CHECK = '10X98765432'

/** The check character (0-9 or X) for the first 17 digits. */
function checkChar(first17) {
  let sum = 0
  for (let i = 0; i < 17; i += 1) sum += Number(first17[i]) * WEIGHTS[i]
  return CHECK[sum % 11]
}

/** The number as the server takes it: no spaces, upper-case X. */
function normalize(value) {
  return String(value == null ? '' : value).replace(/\s+/g, '').toUpperCase()
}

/** '' when the number is well formed, else the Chinese message to show. */
function problem(value) {
  const id = normalize(value)
  if (!id) return '请输入身份证号'
  if (id.length !== 18) return '身份证号应为18位，您输入了' + id.length + '位'
  if (!/^\d{17}[\dX]$/.test(id)) return '身份证号前17位应为数字，最后一位是数字或字母X'
  const year = Number(id.slice(6, 10))
  const month = Number(id.slice(10, 12))
  const day = Number(id.slice(12, 14))
  const born = new Date(Date.UTC(year, month - 1, day))
  const valid =
    year >= 1900 &&
    born.getUTCFullYear() === year &&
    born.getUTCMonth() === month - 1 &&
    born.getUTCDate() === day &&
    born.getTime() <= Date.now()
  if (!valid) return '身份证号中的出生日期不正确，请核对'
  if (checkChar(id.slice(0, 17)) !== id[17]) return '身份证号最后一位（校验码）不符，请核对是否输错'
  return ''
}

module.exports = {problem, normalize, checkChar}
