//! What user-written text may hold: the one character rule.
//!
//! An incident record is read by people deciding under pressure, so what it displays must be
//! what it says. Text is kept verbatim, any script and any symbol, except characters that
//! change how text displays without being seen themselves:
//!
//! - control characters other than line break and tab (escape sequences, NUL, DEL, the C1
//!   controls), which no one types;
//! - the bidirectional formatting characters (overrides, embeddings, isolates and the three
//!   marks), which reorder what is displayed ("Trojan Source": `invoice\u{202E}fdp.exe` shows
//!   as `invoiceexe.pdf`);
//! - every other invisible character: Unicode's format characters (general category Cf, e.g.
//!   U+200B ZERO WIDTH SPACE, U+00AD SOFT HYPHEN, U+FEFF, the tag characters), the line and
//!   paragraph separators U+2028 and U+2029, and the default-ignorable characters a font draws
//!   as nothing (U+034F, the Hangul fillers, the Mongolian and supplementary variation
//!   selectors, U+17B4 and U+17B5). `ad\u{200B}min approved` would display as `admin approved`
//!   yet match neither search nor comparison.
//!
//! U+200D ZERO WIDTH JOINER is refused too, although it joins emoji sequences (a family, a
//! profession): a security team's incident record does not need them, and it is as invisible
//! as any other. The variation selectors U+FE00 to U+FE0F are kept: they only choose how the
//! character before them is drawn (text or emoji style, as in ⚠️), which phones insert unasked.
//!
//! The table follows the Unicode Character Database 17.0 (DerivedGeneralCategory.txt for Cf,
//! DerivedCoreProperties.txt for Default_Ignorable_Code_Point).

/// Why a character is refused in user text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hidden {
    /// A control character other than line break, carriage return and tab.
    Control,
    /// A bidirectional formatting character: it reorders what is displayed.
    Bidi,
    /// A character that displays as nothing.
    Invisible,
}

/// The invisible characters, with their names, in code point order: `(first, last, name)`.
/// A range's name is what is said of each of its characters.
const INVISIBLE: &[(char, char, &str)] = &[
    ('\u{00AD}', '\u{00AD}', "SOFT HYPHEN"),
    ('\u{034F}', '\u{034F}', "COMBINING GRAPHEME JOINER"),
    ('\u{0600}', '\u{0605}', "an Arabic number sign"),
    ('\u{06DD}', '\u{06DD}', "ARABIC END OF AYAH"),
    ('\u{070F}', '\u{070F}', "SYRIAC ABBREVIATION MARK"),
    ('\u{0890}', '\u{0891}', "an Arabic currency mark"),
    ('\u{08E2}', '\u{08E2}', "ARABIC DISPUTED END OF AYAH"),
    ('\u{115F}', '\u{115F}', "HANGUL CHOSEONG FILLER"),
    ('\u{1160}', '\u{1160}', "HANGUL JUNGSEONG FILLER"),
    ('\u{17B4}', '\u{17B5}', "a Khmer inherent vowel"),
    ('\u{180B}', '\u{180D}', "a MONGOLIAN FREE VARIATION SELECTOR"),
    ('\u{180E}', '\u{180E}', "MONGOLIAN VOWEL SEPARATOR"),
    ('\u{180F}', '\u{180F}', "MONGOLIAN FREE VARIATION SELECTOR FOUR"),
    ('\u{200B}', '\u{200B}', "ZERO WIDTH SPACE"),
    ('\u{200C}', '\u{200C}', "ZERO WIDTH NON-JOINER"),
    ('\u{200D}', '\u{200D}', "ZERO WIDTH JOINER"),
    ('\u{2028}', '\u{2028}', "LINE SEPARATOR"),
    ('\u{2029}', '\u{2029}', "PARAGRAPH SEPARATOR"),
    ('\u{2060}', '\u{2060}', "WORD JOINER"),
    ('\u{2061}', '\u{2061}', "FUNCTION APPLICATION"),
    ('\u{2062}', '\u{2062}', "INVISIBLE TIMES"),
    ('\u{2063}', '\u{2063}', "INVISIBLE SEPARATOR"),
    ('\u{2064}', '\u{2064}', "INVISIBLE PLUS"),
    ('\u{2065}', '\u{2065}', "an unassigned default-ignorable character"),
    ('\u{206A}', '\u{206F}', "a deprecated format character"),
    ('\u{3164}', '\u{3164}', "HANGUL FILLER"),
    ('\u{FEFF}', '\u{FEFF}', "ZERO WIDTH NO-BREAK SPACE"),
    ('\u{FFA0}', '\u{FFA0}', "HALFWIDTH HANGUL FILLER"),
    ('\u{FFF0}', '\u{FFF8}', "an unassigned default-ignorable character"),
    ('\u{FFF9}', '\u{FFFB}', "an interlinear annotation character"),
    ('\u{110BD}', '\u{110BD}', "KAITHI NUMBER SIGN"),
    ('\u{110CD}', '\u{110CD}', "KAITHI NUMBER SIGN ABOVE"),
    ('\u{13430}', '\u{1343F}', "an Egyptian hieroglyph format control"),
    ('\u{1BCA0}', '\u{1BCA3}', "a shorthand format control"),
    ('\u{1D173}', '\u{1D17A}', "a musical symbol format control"),
    ('\u{E0000}', '\u{E001F}', "a tag character"),
    ('\u{E0020}', '\u{E007F}', "a tag character"),
    ('\u{E0080}', '\u{E00FF}', "an unassigned default-ignorable character"),
    ('\u{E0100}', '\u{E01EF}', "a supplementary VARIATION SELECTOR"),
    ('\u{E01F0}', '\u{E0FFF}', "an unassigned default-ignorable character"),
];

/// The bidirectional formatting characters, with their names.
const BIDI: &[(char, &str)] = &[
    ('\u{061C}', "ARABIC LETTER MARK"),
    ('\u{200E}', "LEFT-TO-RIGHT MARK"),
    ('\u{200F}', "RIGHT-TO-LEFT MARK"),
    ('\u{202A}', "LEFT-TO-RIGHT EMBEDDING"),
    ('\u{202B}', "RIGHT-TO-LEFT EMBEDDING"),
    ('\u{202C}', "POP DIRECTIONAL FORMATTING"),
    ('\u{202D}', "LEFT-TO-RIGHT OVERRIDE"),
    ('\u{202E}', "RIGHT-TO-LEFT OVERRIDE"),
    ('\u{2066}', "LEFT-TO-RIGHT ISOLATE"),
    ('\u{2067}', "RIGHT-TO-LEFT ISOLATE"),
    ('\u{2068}', "FIRST STRONG ISOLATE"),
    ('\u{2069}', "POP DIRECTIONAL ISOLATE"),
];

/// Whether, and why, user text may not hold `c`. Line break, carriage return and tab are text.
pub fn hidden(c: char) -> Option<Hidden> {
    if c.is_control() {
        return (!matches!(c, '\n' | '\r' | '\t')).then_some(Hidden::Control);
    }
    if BIDI.iter().any(|(bidi, _)| *bidi == c) {
        return Some(Hidden::Bidi);
    }
    INVISIBLE.iter().any(|(first, last, _)| (*first..=*last).contains(&c)).then_some(Hidden::Invisible)
}

/// The first character of `text` that user text may not hold, said as a refusal says it:
/// "contains U+200B (ZERO WIDTH SPACE), an invisible character that can disguise text".
pub fn refusal(text: &str) -> Option<String> {
    text.chars().find_map(|c| hidden(c).map(|why| said(c, why)))
}

fn said(c: char, why: Hidden) -> String {
    let code = format!("U+{:04X}", c as u32);
    match why {
        Hidden::Control => {
            format!("contains {code}, a control character; text holds no control characters but line breaks and tabs")
        }
        Hidden::Bidi => {
            let name = BIDI.iter().find(|(bidi, _)| *bidi == c).map_or("", |(_, name)| name);
            format!("contains {code} ({name}), a bidirectional formatting character, which can disguise text")
        }
        Hidden::Invisible => {
            let name =
                INVISIBLE.iter().find(|(first, last, _)| (*first..=*last).contains(&c)).map_or("", |(_, _, name)| name);
            format!("contains {code} ({name}), an invisible character that can disguise text")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_in_order_without_overlaps() {
        for pair in INVISIBLE.windows(2) {
            assert!(pair[0].0 <= pair[0].1 && pair[0].1 < pair[1].0, "{pair:?}");
        }
        for (c, _) in BIDI {
            assert!(!INVISIBLE.iter().any(|(first, last, _)| (*first..=*last).contains(c)), "{c:?} is in both");
        }
    }
}
