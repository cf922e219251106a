import { z } from 'zod';

/** A list parameter of a flow, given as "A,B" on the command line or as a JSON array. */
export const textList = z.union([z.array(z.string().min(1)), z.string().transform((text) => text.split(',').map((item) => item.trim()).filter(Boolean))]);
