'use strict'

// sessionbridge drop-in run (packages/testing/dropin): the suite's TestStore is sessionbridge's bare
// @fastify/session store on a real Redis (SESSIONBRIDGE_DROPIN_URL), one key prefix per instance, as each
// of their TestStores is its own memory.
const { after } = require('node:test')
const { createSessionStore } = require('@sessionbridge/core')
const { FastifyStore } = require('@sessionbridge/fastify')

const open = []
let made = 0
after(() => Promise.all(open.map((store) => store.close())))

class TestStore extends FastifyStore {
  constructor () {
    const core = createSessionStore({ url: process.env.SESSIONBRIDGE_DROPIN_URL, prefix: `dropin:${process.pid}:${made++}:` })
    open.push(core)
    super(core)
  }
}

module.exports = TestStore
