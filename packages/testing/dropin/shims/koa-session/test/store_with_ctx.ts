// sessionbridge drop-in run (packages/testing/dropin): sessionbridge's koa-session store on a real Redis,
// marking ctx.state.test as the suite's own store_with_ctx does (that is what its tests check).
import { createSessionStore } from '@sessionbridge/core';
import { createKoaStore } from '@sessionbridge/koa';

const core = createSessionStore({ url: process.env.SESSIONBRIDGE_DROPIN_URL as string, prefix: `dropin:${process.pid}:ctx:` });
after(() => core.close());
const store = createKoaStore(core);

export default {
  async get(key: string, maxAge: number, options: any) {
    options.ctx.state.test = 'get';
    return store.get(key, maxAge, options);
  },
  async set(key: string, sess: Record<string, unknown>, maxAge: number, options: any) {
    options.ctx.state.test = 'set';
    return store.set(key, sess, maxAge, options);
  },
  async destroy(key: string, options: any) {
    options.ctx.state.test = 'destroyed';
    return store.destroy(key, options);
  },
};
