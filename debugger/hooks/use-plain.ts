/**
 * Plain output for NO_COLOR: when set, the debugger draws no bold, dim or inverse text either, and
 * the cursor row stays visible by its ▶ marker alone.
 */
import { createContext, useContext } from 'react';

/** True to draw without any text styling; the CLI sets it from NO_COLOR. */
export const PlainContext = createContext(false);

/** Whether to draw without styling. */
export function usePlain(): boolean {
  return useContext(PlainContext);
}
