// Text search over a fixed list of tracks.
//
// The tracks are indexed once: every word of every title, artist, album and genre goes into a sorted
// vocabulary, each word pointing at the tracks that contain it and the best field it appears in. A
// query is split into words the same way; each query word is looked up as a prefix with a binary
// search over the vocabulary, so a query touches only the postings of the words it can match and
// never re-normalises the catalog.

import MiniSearch from 'minisearch';
import type { Track } from '../domain/types.ts';
import { searchWords } from './text.ts';

/**
 * Typo tolerance: when no track holds every query word (as a word or a prefix), the query is asked
 * again of MiniSearch with fuzzy matching, every word still required: a word may be this share of
 * its length away (edits), so "beatels yesterdy" finds "Yesterday" by "The Beatles".
 */
const FUZZY = 0.25;

interface FuzzyDoc {
  readonly id: number;
  readonly title: string;
  readonly artist: string;
  readonly album: string;
  readonly genre: string;
}

// Field weights: a word matched in the title counts more than one matched in the artist, and so on.
// Each step is worth more than the exact-word bonus, so the field decides first and exactness second.
const FIELD_WEIGHT = { title: 40, artist: 30, album: 20, genre: 10 } as const;
const FIELDS = Object.keys(FIELD_WEIGHT) as (keyof typeof FIELD_WEIGHT)[];
/** Bonus for a query word that is a whole word of the track ("love" in "Love Me") over a prefix ("love" in "Lovely"). */
const EXACT_WORD_BONUS = 3;
/** Bonus when the whole query is the title, word for word. */
const TITLE_EQUALS_BONUS = 100;
/** Bonus when the title starts with the whole query, as whole words ("jolene" for "Jolene (Live)"). */
const TITLE_STARTS_BONUS = 20;

interface Postings {
  /** Indexes of the tracks holding the word, ascending. */
  readonly tracks: number[];
  /** For each of those tracks, the weight of the best field the word appears in. */
  readonly weights: number[];
}

export class SearchIndex {
  readonly #tracks: readonly Track[];
  /** Every distinct word, sorted by code unit, so all words with a given prefix are one contiguous run. */
  readonly #vocabulary: string[];
  /** Parallel to #vocabulary. */
  readonly #postings: Postings[];
  /** Each track's title as search words joined by one space, for the whole-title bonuses. */
  readonly #titleKeys: string[];
  /** The same tracks for the fuzzy fallback, built on first use (most searches never need it). */
  #fuzzy: MiniSearch<FuzzyDoc> | null = null;

  constructor(tracks: readonly Track[]) {
    this.#tracks = tracks;
    const byWord = new Map<string, Postings>();
    this.#titleKeys = tracks.map((track, index) => {
      for (const field of FIELDS) {
        const weight = FIELD_WEIGHT[field];
        for (const word of searchWords(track[field] ?? '')) {
          let postings = byWord.get(word);
          if (postings === undefined) {
            postings = { tracks: [], weights: [] };
            byWord.set(word, postings);
          }
          // Tracks are visited in index order, so a word already seen for this track is the last entry.
          const last = postings.tracks.length - 1;
          if (postings.tracks[last] === index) {
            postings.weights[last] = Math.max(postings.weights[last] ?? 0, weight);
          } else {
            postings.tracks.push(index);
            postings.weights.push(weight);
          }
        }
      }
      return searchWords(track.title).join(' ');
    });
    this.#vocabulary = [...byWord.keys()].sort();
    this.#postings = this.#vocabulary.map((word) => byWord.get(word)!);
  }

  /**
   * Tracks matching every word of `query` (each query word a prefix of some word of the track's
   * title, artist, album or genre), best first; ties keep catalog order. A query with no words
   * (empty, or only punctuation) matches every track in catalog order.
   */
  search(query: string, limit: number): Track[] {
    const max = Number.isNaN(limit) ? 0 : Math.max(0, Math.floor(limit));
    if (max === 0) return [];
    const queryWords = searchWords(query);
    if (queryWords.length === 0) return this.#tracks.slice(0, max);

    // Score each distinct query word separately, then keep the tracks every word matched.
    const perWord: Map<number, number>[] = [];
    for (const word of new Set(queryWords)) {
      const scores = this.#scoreWord(word);
      if (scores.size === 0) return this.#searchFuzzy(query, max);
      perWord.push(scores);
    }
    perWord.sort((a, b) => a.size - b.size);
    const [smallest, ...others] = perWord as [Map<number, number>, ...Map<number, number>[]];

    const queryKey = queryWords.join(' ');
    const hits: { index: number; score: number }[] = [];
    for (const [index, firstScore] of smallest) {
      let score = firstScore;
      let matchesAll = true;
      for (const scores of others) {
        const s = scores.get(index);
        if (s === undefined) {
          matchesAll = false;
          break;
        }
        score += s;
      }
      if (!matchesAll) continue;
      const titleKey = this.#titleKeys[index]!;
      if (titleKey === queryKey) score += TITLE_EQUALS_BONUS;
      else if (titleKey.startsWith(queryKey + ' ')) score += TITLE_STARTS_BONUS;
      hits.push({ index, score });
    }
    if (hits.length === 0) return this.#searchFuzzy(query, max);
    hits.sort((a, b) => b.score - a.score || a.index - b.index);
    return hits.slice(0, max).map((hit) => this.#tracks[hit.index]!);
  }

  /** The typo-tolerant second try (see FUZZY), best first, ties in catalog order. */
  #searchFuzzy(query: string, max: number): Track[] {
    this.#fuzzy ??= this.#buildFuzzy();
    const hits = this.#fuzzy.search(query, {
      fuzzy: FUZZY,
      prefix: true,
      combineWith: 'AND',
      boost: { title: FIELD_WEIGHT.title, artist: FIELD_WEIGHT.artist, album: FIELD_WEIGHT.album },
    });
    hits.sort((a, b) => b.score - a.score || (a.id as number) - (b.id as number));
    return hits.slice(0, max).map((hit) => this.#tracks[hit.id as number]!);
  }

  #buildFuzzy(): MiniSearch<FuzzyDoc> {
    const index = new MiniSearch<FuzzyDoc>({
      fields: ['title', 'artist', 'album', 'genre'],
      // The same words as the exact index: case, diacritics and punctuation folded.
      tokenize: (text) => searchWords(text),
      processTerm: (term) => term,
    });
    index.addAll(
      this.#tracks.map((t, id) => ({
        id,
        title: t.title,
        artist: t.artist,
        album: t.album,
        genre: t.genre ?? '',
      })),
    );
    return index;
  }

  /** Track index -> best score of `word` in that track, over every vocabulary word it is a prefix of. */
  #scoreWord(word: string): Map<number, number> {
    const scores = new Map<number, number>();
    for (let i = lowerBound(this.#vocabulary, word); i < this.#vocabulary.length; i++) {
      const candidate = this.#vocabulary[i]!;
      if (!candidate.startsWith(word)) break;
      const bonus = candidate.length === word.length ? EXACT_WORD_BONUS : 0;
      const { tracks, weights } = this.#postings[i]!;
      for (let j = 0; j < tracks.length; j++) {
        const index = tracks[j]!;
        const score = weights[j]! + bonus;
        if (score > (scores.get(index) ?? 0)) scores.set(index, score);
      }
    }
    return scores;
  }
}

/** The first position in sorted `words` whose word is not less than `word`. */
function lowerBound(words: readonly string[], word: string): number {
  let lo = 0;
  let hi = words.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (words[mid]! < word) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
