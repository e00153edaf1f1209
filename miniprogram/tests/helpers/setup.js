// Before every test file: a phone's local storage that really stores (miniprogram-simulate's wx
// answers fixed values), and no stray session from another file.
const phones = require('./phones')

beforeEach(() => {
  phones.reset()
})
