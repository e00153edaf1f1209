// Two projects: `unit` (pages and components against a fake server, fast) and `e2e` (the same pages
// with `wx` bound to a real UnionAid server that tests/miniprogram/test_miniprogram.py starts with
// the WeChat sandbox; UNIONAID_E2E_BASE gives its address).
const common = {
  testEnvironment: 'jsdom',
  snapshotSerializers: ['miniprogram-simulate/jest-snapshot-plugin'],
  setupFilesAfterEnv: ['<rootDir>/tests/helpers/setup.js'],
}

module.exports = {
  projects: [
    Object.assign({displayName: 'unit', testMatch: ['<rootDir>/tests/unit/**/*.test.js']}, common),
    Object.assign({displayName: 'e2e', testMatch: ['<rootDir>/tests/e2e/**/*.test.js'], testTimeout: 60000}, common),
  ],
}
