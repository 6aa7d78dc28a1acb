// A compiled target shape for mapping tests (throws with every problem named).
import { compileShape, type TargetShape } from '../../../../consumers/mapping/shape.ts';
import { MappingSchema } from '../../../../pipeline/config/mapping.ts';
import { loadContract, type TableContract } from '../../../../schemas/contract.ts';

export function shapeOf(mapping: unknown, c: TableContract = loadContract()): TargetShape {
  const { shape, problems } = compileShape(MappingSchema.parse(mapping), c);
  if (!shape) throw new Error(problems.map((p) => `${p.path}: ${p.message}`).join('; '));
  return shape;
}
