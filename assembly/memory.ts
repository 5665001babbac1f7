/**
 * Linear-memory layout and the staging arena.
 *
 *   [0, __heap_base)            static data (the CRC32C tables)
 *   [regionBase, arenaBase)     key map table, sized by keymapInit
 *   [arenaBase, arenaTop)       staging arena: bump allocation, 16-byte aligned
 *   [arenaTop, memory end)      free; memory grows on demand, never shrinks
 *
 * The arena is where the JS side copies bytes in before calling an export:
 * alloc() hands out blocks, reset() frees them all, arenaMark()/arenaRewind()
 * free everything allocated after a mark (so a helper can stage and clean up
 * without disturbing blocks its caller placed earlier). The key map sits below
 * the arena, so resizing it (keymapInit) moves the arena and resets it.
 *
 * memory.grow detaches every JS view of the old buffer: after any export that
 * can allocate, JS must re-read memory.buffer.
 */

const ALIGN_MASK: usize = 15;
const PAGE_SHIFT: u64 = 16;
/** Growth step cap: grow by what is needed, or by up to this much more to amortize. */
const GROW_PAGES_MAX: i32 = 1024; // 64 MiB
/** wasm32 ceiling: 65536 pages of 64 KiB. */
const MEMORY_BYTES_MAX: u64 = 1 << 32;

const regionBase: usize = (__heap_base + ALIGN_MASK) & ~ALIGN_MASK;
let arenaBase: usize = regionBase;
let arenaTop: usize = regionBase;

// @ts-ignore: decorator
@inline function alignUp(n: u64): u64 {
  return (n + <u64>ALIGN_MASK) & ~(<u64>ALIGN_MASK);
}

/** Makes [0, end) addressable. false when memory cannot grow that far. */
function ensureMemory(end: u64): bool {
  if (end > MEMORY_BYTES_MAX) return false;
  let pagesBefore = memory.size();
  let bytesBefore = <u64>pagesBefore << PAGE_SHIFT;
  if (end <= bytesBefore) return true;
  let pagesNeeded = <i32>((end - bytesBefore + 0xffff) >> PAGE_SHIFT);
  let pagesWanted = max(pagesNeeded, min(pagesBefore, GROW_PAGES_MAX));
  if (memory.grow(pagesWanted) >= 0) return true;
  return memory.grow(pagesNeeded) >= 0;
}

/** A 16-byte aligned block of `size` bytes in the arena, or 0 when memory is exhausted. */
export function alloc(size: i32): usize {
  if (size < 0) return 0;
  let start = alignUp(<u64>arenaTop);
  let end = start + <u64>size;
  if (!ensureMemory(end)) return 0;
  arenaTop = <usize>end;
  return <usize>start;
}

/** Frees every arena block. */
export function reset(): void {
  arenaTop = arenaBase;
}

/** The arena's current top, to hand back to arenaRewind. */
export function arenaMark(): usize {
  return arenaTop;
}

/** Frees the blocks allocated since arenaMark() returned `mark`. */
export function arenaRewind(mark: usize): void {
  assert(mark >= arenaBase && mark <= arenaTop, 'arena mark out of range');
  arenaTop = mark;
}

/**
 * Places a zeroed table of `bytes` at regionBase and moves the arena above it,
 * resetting the arena. Returns the table's address, or 0 when memory is exhausted.
 */
export function reserveTableRegion(bytes: u64): usize {
  let tableEnd = alignUp(<u64>regionBase + bytes);
  if (!ensureMemory(tableEnd)) return 0;
  memory.fill(regionBase, 0, <usize>bytes);
  arenaBase = <usize>tableEnd;
  arenaTop = arenaBase;
  return regionBase;
}
