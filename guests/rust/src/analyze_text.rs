use polyplug_pdk::Error;
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
struct Input {
    text: String,
}

#[derive(Serialize)]
struct Output {
    bytes: usize,
    chars: usize,
    words: usize,
    longest_word: String,
}

fn analyze_text(Input { text }: Input) -> Result<Output, Error> {
    // `split_whitespace` splits on exactly the Unicode White_Space property,
    // the contract's word boundary.
    let mut words = 0;
    let mut longest_word = "";
    let mut longest_chars = 0;
    for word in text.split_whitespace() {
        words += 1;
        let chars = word.chars().count();
        if chars > longest_chars {
            // Strictly longer: on a tie the first word stays.
            longest_word = word;
            longest_chars = chars;
        }
    }
    Ok(Output {
        bytes: text.len(),
        chars: text.chars().count(),
        words,
        longest_word: longest_word.to_owned(),
    })
}

polyplug_pdk::export!(analyze_text);
