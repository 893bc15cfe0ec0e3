// Generates src/catalog/demo-catalog.json, the bundled demo catalog: a few hundred made-up but
// real-looking tracks (invented artists and albums, titles drawn from word lists), so that Chorus has
// something to search and queue with no music folder configured. The output depends only on the seed
// and the lists below: running it again writes the same file byte for byte.
//
//   npx node scripts/make-demo-catalog.ts           write the file
//   npx node scripts/make-demo-catalog.ts --check   exit 1 if the committed file is not what this writes

import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { Track } from '../src/domain/types.ts';
import { checkTrack } from '../src/domain/validate.ts';
import { prng } from '../src/prng.ts';

export const DEMO_CATALOG_FILE = fileURLToPath(new URL('../src/catalog/demo-catalog.json', import.meta.url));
const SEED = 0x5eed_c0de;

type Lang = 'en' | 'es' | 'pt' | 'fr' | 'sv' | 'is' | 'tr' | 'ja' | 'classical';
/** Typical track lengths of a style, in seconds; all within 2 to 7 minutes. */
type Span = readonly [min: number, max: number];

interface Artist {
  readonly name: string;
  readonly genre: string;
  readonly langs: readonly Lang[];
  readonly span: Span;
  readonly albums: readonly (readonly [title: string, year: number])[];
}

const SHORT: Span = [120, 200];
const POP: Span = [165, 250];
const ROCK: Span = [180, 330];
const LONG: Span = [240, 420];

// prettier-ignore
const ARTISTS: readonly Artist[] = [
  { name: 'Harbor Lights Collective', genre: 'Indie Rock', langs: ['en'], span: ROCK, albums: [['Salt & Static', 2014], ['Weathervane', 2018]] },
  { name: 'Marisol Vega', genre: 'Latin Pop', langs: ['es'], span: POP, albums: [['Corazón de Neón', 2019], ['Mareas', 2022]] },
  { name: 'The Velvet Orchards', genre: 'Rock', langs: ['en'], span: ROCK, albums: [['Orchard Road', 1971], ['Second Harvest', 1974]] },
  { name: 'Björn Ekdahl Trio', genre: 'Jazz', langs: ['sv', 'en'], span: LONG, albums: [['Nattljus', 2009], ['Sommarö', 2012]] },
  { name: 'Kestrel & Pine', genre: 'Folk', langs: ['en'], span: POP, albums: [['Lantern Songs', 2016]] },
  { name: 'DJ Lumen', genre: 'Electronic', langs: ['en'], span: LONG, albums: [['Afterglow Systems', 2020], ['Night Bus', 2023]] },
  { name: 'Ironclad Saints', genre: 'Heavy Metal', langs: ['en'], span: LONG, albums: [['Forged in Ash', 1986], ['Cathedral of Steel', 1989]] },
  { name: 'Nadia Okafor', genre: 'R&B', langs: ['en'], span: POP, albums: [['Golden Hour Letters', 2021]] },
  { name: 'Static Youth', genre: 'Punk', langs: ['en'], span: SHORT, albums: [['No Future Tense', 1979], ['Broken Radio', 1981]] },
  { name: 'Céleste Moreau', genre: 'Chanson', langs: ['fr'], span: POP, albums: [['Rue des Étoiles', 2011], ['Café Minuit', 2015]] },
  { name: 'Lo-Fi Cartographer', genre: 'Lo-Fi Hip Hop', langs: ['en'], span: SHORT, albums: [['Maps for Rainy Days', 2020]] },
  { name: 'Rhyme Theory', genre: 'Hip Hop', langs: ['en'], span: POP, albums: [['Concrete Gospel', 1996], ['Blueprint Dreams', 1999]] },
  { name: 'Aurora Quartet', genre: 'Classical', langs: ['classical'], span: LONG, albums: [['String Quartets, Vol. 1', 2005]] },
  { name: 'Saffron Dunes', genre: 'Desert Blues', langs: ['en'], span: ROCK, albums: [['Caravan of Echoes', 2013]] },
  { name: 'Whiskey Creek Ramblers', genre: 'Country', langs: ['en'], span: POP, albums: [['Dust on the Dashboard', 2008], ['Porch Light', 2012]] },
  { name: 'Zoë Lindqvist', genre: 'Synth-pop', langs: ['en', 'sv'], span: POP, albums: [['Polaroid Summer', 1984], ['Neon Cathedral', 1986]] },
  { name: 'Groove Assembly', genre: 'Funk', langs: ['en'], span: ROCK, albums: [['Get Down Uptown', 1975], ['Sunset Strut', 1977]] },
  { name: 'Miles Ashby Quintet', genre: 'Jazz', langs: ['en'], span: LONG, albums: [['Blue at Dawn', 1961], ['Late Set at the Lantern', 1963]] },
  { name: 'Echo Parade', genre: 'Indie Pop', langs: ['en'], span: POP, albums: [['Paper Planes & Postcards', 2017]] },
  { name: 'Sigrún Ósk', genre: 'Ambient', langs: ['is', 'en'], span: LONG, albums: [['Jökull', 2015], ['Hafið', 2019]] },
  { name: 'Kofi Mensah & The Highlife Stars', genre: 'Highlife', langs: ['en'], span: LONG, albums: [['Accra Nights', 1978]] },
  { name: 'Thunder Valley', genre: 'Hard Rock', langs: ['en'], span: ROCK, albums: [['Highway Thunder', 1982]] },
  { name: 'Luna Park Orchestra', genre: 'Soundtrack', langs: ['en'], span: ROCK, albums: [['Films Never Made', 2018]] },
  { name: 'Mika Tanaka', genre: 'J-Pop', langs: ['ja'], span: POP, albums: [['Sakura Signal', 2016]] },
  { name: 'Rust & Rivets', genre: 'Blues', langs: ['en'], span: ROCK, albums: [['Delta Mornings', 1966]] },
  { name: 'Pulse Theory', genre: 'Techno', langs: ['en'], span: LONG, albums: [['Warehouse Protocol', 2011]] },
  { name: 'The Hollow Pines', genre: 'Alternative', langs: ['en'], span: ROCK, albums: [['Undertow', 1994], ['Quiet Machines', 1997]] },
  { name: 'Ana Luísa Prado', genre: 'Bossa Nova', langs: ['pt'], span: POP, albums: [['Varanda', 1967]] },
  { name: 'Noor & The Night Market', genre: 'Neo-Soul', langs: ['en'], span: ROCK, albums: [['Spice Route', 2019]] },
  { name: 'Crystal Fauna', genre: 'Dream Pop', langs: ['en'], span: ROCK, albums: [['Slow Bloom', 2013]] },
  { name: 'Stormcrow', genre: 'Doom Metal', langs: ['en'], span: LONG, albums: [['Black Tide Rising', 2007]] },
  { name: 'Ruby Calloway', genre: 'Soul', langs: ['en'], span: POP, albums: [['Sweet Thunder', 1969], ['Love in Technicolor', 1971]] },
  { name: 'The Gentle Machines', genre: 'Post-Rock', langs: ['en'], span: LONG, albums: [['Signals from a Quiet Planet', 2010]] },
  { name: 'Diego Fuentes', genre: 'Flamenco', langs: ['es'], span: ROCK, albums: [['Noches de Sevilla', 2004]] },
  { name: 'Papa Loup', genre: 'Reggae', langs: ['en'], span: ROCK, albums: [['Island Frequency', 1977]] },
  { name: 'Violet Hour', genre: 'Shoegaze', langs: ['en'], span: ROCK, albums: [['Soft Focus', 1991]] },
  { name: 'Amara Diallo', genre: 'Afropop', langs: ['en', 'fr'], span: POP, albums: [['Sahel Sunrise', 2014]] },
  { name: 'Neon Wolves', genre: 'Synthwave', langs: ['en'], span: ROCK, albums: [['Outrun Memories', 2015], ['Turbo Nights', 2017]] },
  { name: 'Hannah Wilde', genre: 'Singer-Songwriter', langs: ['en'], span: POP, albums: [['Kitchen Table Songs', 2006], ['Letters I Never Sent', 2010]] },
  { name: 'Krautwerk Kollektiv', genre: 'Krautrock', langs: ['en'], span: LONG, albums: [['Motorik Morgen', 1973]] },
  { name: 'The Brass Alley Band', genre: 'Ska', langs: ['en'], span: SHORT, albums: [['Skank Avenue', 1995]] },
  { name: 'Yusuf Demir', genre: 'Anatolian Rock', langs: ['tr'], span: ROCK, albums: [['Boğaziçi', 1974]] },
  { name: 'Tidal Sleepers', genre: 'Chillout', langs: ['en'], span: LONG, albums: [['Hammock Hours', 2003]] },
];

// The tables below are laid out by hand (prettier-ignore): one artist or a dozen words per line.

// ---- Title material -----------------------------------------------------------------------------

// prettier-ignore
const ADJECTIVES = [
  'Golden', 'Silver', 'Broken', 'Electric', 'Quiet', 'Midnight', 'Paper', 'Velvet', 'Hollow', 'Burning',
  'Restless', 'Crystal', 'Wild', 'Lonely', 'Neon', 'Faded', 'Secret', 'Distant', 'Gentle', 'Endless',
  'Crooked', 'Northern', 'Borrowed', 'Empty', 'Heavy', 'Tender', 'Sweet', 'Cold', 'Blue', 'Scarlet',
  'Sleepless', 'Little', 'Open', 'Last', 'Slow', 'Bright', 'Lost', 'Sunday', 'Copper', 'Wandering',
];
// prettier-ignore
const NOUNS = [
  'Heart', 'River', 'Highway', 'Window', 'Ghost', 'Garden', 'Letter', 'Summer', 'Signal', 'Mirror',
  'Harbor', 'Fire', 'Rain', 'Machine', 'Satellite', 'Lantern', 'Ocean', 'Kingdom', 'Train', 'Diamond',
  'Stranger', 'Horizon', 'Echo', 'Thunder', 'Shadow', 'Wire', 'Compass', 'Lullaby', 'Parade', 'Skyline',
  'Avenue', 'Morning', 'Daydream', 'Telephone', 'Carousel', 'Wildfire', 'Heartbeat', 'Moonlight', 'Tide',
  'Postcard', 'Engine', 'Sparrow', 'Frontier', 'Neighborhood', 'Radio', 'Weekend',
];
// prettier-ignore
const GERUNDS = ['Running', 'Falling', 'Dancing', 'Waiting', 'Driving', 'Drifting', 'Chasing', 'Dreaming', 'Walking', 'Sailing'];
const PREPOSITIONS = ['Through', 'Under', 'Into', 'Across', 'Beyond', 'Over', 'Past', 'Along'];
// prettier-ignore
const PLACES = [
  'Lisbon', 'Memphis', 'Tokyo', 'Berlin', 'Brooklyn', 'Marseille', 'Reykjavík', 'Havana', 'Cairo', 'Detroit',
  'Kyoto', 'Montréal', 'São Paulo', 'Harlem', 'Nashville', 'Dakar', 'Gdańsk', 'Kraków', 'Zürich', 'Istanbul',
];
// prettier-ignore
const PHRASES = [
  'Hold On', 'Let It Burn', 'Stay', 'Come Back Home', "Don't Look Down", 'Say My Name', 'Call Me Tonight',
  'Take Me Higher', 'Never Let Go', 'All I Want', 'Right Here', 'Stay Awake', 'One More Time', 'Keep Moving',
  'Light It Up', 'Run Away', 'Let Me In', 'Carry On', 'Breathe', 'Wake Up', "I'll Be There", 'Yesterday Again',
  "Where Did You Go", 'Better Days', 'Hello, Stranger', 'Closer', 'Afterglow', 'Home by Morning',
];
// prettier-ignore
const NAMES = ['Amélie', 'Josephine', 'Maria', 'Marco', 'Rosa', 'Sam', 'Eleanor', 'Jude', 'Lucía', 'Noémie', 'Theo', 'Ingrid'];

// prettier-ignore
const TITLES: Readonly<Record<Exclude<Lang, 'en' | 'classical'>, readonly string[]>> = {
  es: [
    'Corazón Partido', 'Noche de Luna', 'Bailando Sola', 'Mar de Fondo', 'Te Esperaré', 'Cielo Rojo',
    'Canción del Viento', 'Olas', 'Sin Ti', 'La Última Vez', 'Fuego Lento', 'Madrugada', 'Caminos',
    'Ay, Amor', 'Luz de Neón', 'Sueños de Papel', 'Calle Mayor', 'Besos en la Arena', 'Alma Libre',
    'Tierra Mojada', 'Solo Tú', 'Media Luna', 'Río Abajo', 'Verano Eterno', 'Guitarra Triste', 'Ojos Negros',
  ],
  pt: [
    'Saudade', 'Manhã de Sol', 'Onda Azul', 'Beira-Mar', 'Canção da Tarde', 'Areia e Sal', 'Lua Cheia',
    'Vento Sul', 'Tarde de Domingo', 'Meu Bem', 'Samba da Varanda', 'Céu de Abril', 'Maré Mansa',
    'Barco a Vela', 'Chuva Fina', 'Flor do Cais',
  ],
  fr: [
    'Rue des Lilas', 'Je Reviendrai', 'Les Étoiles', 'La Pluie', 'Mon Ami', 'Sous la Lune', 'Bonsoir Paris',
    'Ma Valse', 'Nuit Blanche', 'Les Quais', 'Fleur de Sel', 'À Bientôt', 'Mélancolie', 'Le Vent Tourne',
    'Sans Toi', 'Éclats de Verre', 'Dimanche Gris', "L'Hiver à Lyon", 'Chère Inconnue', 'Petit Matin',
  ],
  sv: [
    'Nattljus', 'Midsommar', 'Skärgård', 'Vinterväg', 'Snöfall', 'Björkdans', 'Fjärran', 'Östersjön',
    'Morgondis', 'Lugnet', 'Regnvals', 'Stjärnfall', 'Höstlöv', 'Sista Färjan',
  ],
  is: [
    'Jökull', 'Hafið', 'Norðurljós', 'Þögn', 'Fjörður', 'Vetrarnótt', 'Snjór', 'Ljós', 'Dögun', 'Ský',
    'Straumur', 'Rökkur', 'Hraun', 'Bláa Stundin',
  ],
  tr: [
    'Boğaziçi', 'Gece Yarısı', 'Sevda Yolu', 'Kara Tren', 'Yağmur', 'Deniz Üstü', 'İstanbul Rüyası',
    'Ayrılık Vakti', 'Güneş Doğarken', 'Eski Dostlar', 'Ateş Böceği', 'Rüzgâr',
  ],
  ja: [
    'Sakura Signal', 'Hanabi', 'Tokyo Midnight', 'Natsu no Owari', 'Kimi to Boku', 'Hoshizora', 'Ame no Hi',
    'Yume Kaze', 'Neon Tokyo', 'Shiroi Kumo', 'Densha de', 'Koi no Uta', 'Umibe no Machi',
  ],
};

// prettier-ignore
const FORMS = ['Nocturne', 'Étude', 'Prelude', 'Impromptu', 'Waltz', 'Romance', 'Serenade'];
// prettier-ignore
const KEYS = ['C major', 'D minor', 'E-flat major', 'F-sharp minor', 'G major', 'A minor', 'B-flat major', 'C-sharp minor', 'A-flat major'];
// prettier-ignore
const MOVEMENTS = ['I. Allegro moderato', 'II. Andante cantabile', 'III. Scherzo: Presto', 'IV. Finale: Allegro vivace', 'II. Adagio'];

// ---- Generation ---------------------------------------------------------------------------------

/** The demo tracks, in catalog order: artists as listed, each album's tracks in running order. */
export function buildDemoTracks(): Track[] {
  const random = prng(SEED);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
  const between = (min: number, max: number): number => min + Math.floor(random() * (max - min + 1));

  const englishTitle = (): string => {
    const r = random();
    if (r < 0.3) return `${pick(ADJECTIVES)} ${pick(NOUNS)}`;
    if (r < 0.4) return pick(NOUNS);
    if (r < 0.47) return `The ${pick(NOUNS)}`;
    if (r < 0.57) return `${pick(GERUNDS)} ${pick(PREPOSITIONS)} the ${pick(NOUNS)}`;
    if (r < 0.65) return `${pick(NOUNS)} in ${pick(PLACES)}`;
    if (r < 0.88) return pick(PHRASES);
    if (r < 0.93) return `Song for ${pick(NAMES)}`;
    return `${pick(NOUNS)} & ${pick(NOUNS)}`;
  };
  const classicalTitle = (): string => {
    if (random() < 0.5) return `String Quartet No. ${between(1, 9)} in ${pick(KEYS)}: ${pick(MOVEMENTS)}`;
    return `${pick(FORMS)} No. ${between(1, 12)} in ${pick(KEYS)}`;
  };
  const titleIn = (lang: Lang): string =>
    lang === 'en' ? englishTitle() : lang === 'classical' ? classicalTitle() : pick(TITLES[lang]);

  const tracks: Track[] = [];
  for (const artist of ARTISTS) {
    const used = new Set<string>();
    const fresh = (): string => {
      // Redraw until the title is new for this artist; after many misses the artist's own-language
      // list is exhausted, so fall back to English, of which there are thousands of combinations.
      for (let attempt = 0; ; attempt++) {
        const title = titleIn(attempt < 50 ? pick(artist.langs) : 'en');
        if (!used.has(title.toLowerCase())) {
          used.add(title.toLowerCase());
          return title;
        }
      }
    };
    for (const [album, year] of artist.albums) {
      const count = between(5, 9);
      const titles = Array.from({ length: count }, fresh);
      // Now and then an album closes by reprising its opener, as albums do.
      if (count > 7 && random() < 0.25 && artist.langs[0] !== 'classical') {
        const reprise = `${titles[0]!} (Reprise)`;
        used.add(reprise.toLowerCase());
        titles[count - 1] = reprise;
      }
      for (const title of titles) {
        const seconds = between(artist.span[0], artist.span[1]);
        tracks.push({
          trackId: `demo:${String(tracks.length + 1).padStart(4, '0')}`,
          title,
          artist: artist.name,
          album,
          durationMs: seconds * 1000,
          year,
          genre: artist.genre,
        });
      }
    }
  }
  return tracks;
}

/** The file's text: one track per line, so a change shows as a readable diff. */
export function renderDemoCatalog(tracks: readonly Track[]): string {
  const lines = tracks.map((t) => '    ' + JSON.stringify(t));
  return (
    '{\n' +
    '  "about": "Made-up demo tracks. Generated by scripts/make-demo-catalog.ts; edit the script, not this file.",\n' +
    '  "tracks": [\n' +
    lines.join(',\n') +
    '\n  ]\n}\n'
  );
}

function verify(tracks: readonly Track[]): void {
  if (tracks.length < 300 || tracks.length > 500)
    throw new Error(`expected 300-500 tracks, made ${tracks.length}`);
  const keys = new Set<string>();
  for (const track of tracks) {
    const problem = checkTrack(track);
    if (problem !== null) throw new Error(`${track.trackId}: ${problem.message}`);
    const key = `${track.title}\u0000${track.artist}`.toLowerCase();
    if (keys.has(key)) throw new Error(`duplicate: ${track.title} by ${track.artist}`);
    keys.add(key);
  }
}

async function main(): Promise<void> {
  const tracks = buildDemoTracks();
  verify(tracks);
  const text = renderDemoCatalog(tracks);
  if (process.argv.includes('--check')) {
    const current = await readFile(DEMO_CATALOG_FILE, 'utf8').catch(() => '');
    if (current !== text) {
      console.error(`${DEMO_CATALOG_FILE} is out of date: run npx node scripts/make-demo-catalog.ts`);
      process.exitCode = 1;
    }
    return;
  }
  await writeFile(DEMO_CATALOG_FILE, text);
  console.log(`wrote ${tracks.length} tracks to ${DEMO_CATALOG_FILE}`);
}

if (import.meta.main) await main();
