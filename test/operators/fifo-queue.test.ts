import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FifoQueue } from '../../src/operators/fifo-queue.js';

describe('FifoQueue', () => {
  it('behaves like an array used as a queue, across compactions', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.record({ push: fc.integer({ min: 1, max: 3000 }) }), fc.record({ shift: fc.constant(true) }), fc.record({ take: fc.integer({ min: 0, max: 3000 }) })), {
          maxLength: 60,
        }),
        (operations) => {
          const queue = new FifoQueue<number>();
          const model: number[] = [];
          let next = 0;
          for (const operation of operations) {
            if ('push' in operation) {
              for (let i = 0; i < operation.push; i++) {
                queue.push(next);
                model.push(next++);
              }
            } else if ('shift' in operation) {
              expect(queue.shift()).toBe(model.shift());
            } else {
              expect(queue.take(operation.take)).toEqual(model.splice(0, operation.take));
            }
            expect(queue.size).toBe(model.length);
            expect(queue.peek()).toBe(model[0]);
          }
          expect([...queue]).toEqual(model);
          expect(queue.clear()).toEqual(model);
          expect(queue.size).toBe(0);
        },
      ),
    );
  });
});
