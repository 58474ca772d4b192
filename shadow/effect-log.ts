import { controlEntry, maxEffectsPerRequest, omittedKind } from '../shared/records/side-effects.js';
import type { SideEffect } from '../shared/records/types.js';

/**
 * The side effects of one request, in the order they started. Entries stay mutable until the
 * response head is written (a status arrives after the call started); the list is frozen then,
 * on both sides alike, so stable's and the shadow's lists cover the same span of the request.
 */
export class EffectLog {
  private readonly entries: SideEffect[] = [];
  private omitted = 0;
  private frozen: SideEffect[] | undefined;

  constructor(private readonly max = maxEffectsPerRequest) {}

  /** Records a call as it starts; the returned entry takes its status and body hash later. */
  add(effect: SideEffect): SideEffect {
    if (this.frozen || this.entries.length >= this.max) this.omitted++;
    else this.entries.push(effect);
    return effect;
  }

  /** The list as of now, with an `omitted` entry when some were left out; later calls only count as omitted. */
  freeze(): SideEffect[] {
    this.frozen ??= this.snapshot();
    return this.frozen;
  }

  /** What the list would be frozen as now, plus what started after a freeze, counted. */
  snapshot(): SideEffect[] {
    const list = this.entries.map((e) => ({ ...e }));
    return this.omitted > 0 ? [...list, controlEntry(omittedKind, this.omitted)] : list;
  }
}
