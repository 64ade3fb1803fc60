"""The starter catalogue of strengths and weaknesses, per subject code of `services.starter`.

Texts are noun phrases, so one wording fits every student: Urdu verbs change with the
student's gender, and a catalogue entry cannot know it. Codes stay stable once a tenant
uses them; an administrator edits the texts and adds items from the catalogue pages.
"""

# subject code -> ((code, English text, Urdu text), ...) for strengths, then for weaknesses.
STARTER_STRENGTHS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "URDU": (
        (
            "fluent_reading",
            "Fluent reading with correct pronunciation",
            "درست تلفظ کے ساتھ روانی سے پڑھنا",
        ),
        ("handwriting", "Neat, well-formed handwriting", "صاف اور خوبصورت خوش خطی"),
        (
            "creative_writing",
            "Creative essays and stories",
            "مضمون اور کہانی نویسی میں تخلیقی صلاحیت",
        ),
        (
            "poetry",
            "Understanding of poems and their meaning",
            "اشعار کی تشریح اور مفہوم کی اچھی سمجھ",
        ),
        ("idioms", "Correct use of idioms and proverbs", "محاورات اور ضرب الامثال کا درست استعمال"),
    ),
    "ENG": (
        (
            "reading_aloud",
            "Fluent reading aloud with correct pronunciation",
            "درست تلفظ کے ساتھ روانی سے بلند خوانی",
        ),
        ("vocabulary", "Good vocabulary for the grade", "جماعت کے لحاظ سے اچھا ذخیرۂ الفاظ"),
        ("comprehension", "Good understanding of what is read", "پڑھی ہوئی عبارت کی اچھی سمجھ"),
        ("spelling", "Neat handwriting and correct spelling", "صاف لکھائی اور درست ہجے"),
        (
            "speaking",
            "Confidence in speaking English in class",
            "کلاس میں انگریزی بولنے میں اعتماد",
        ),
    ),
    "MATH": (
        ("mental_arithmetic", "Quick, accurate mental arithmetic", "ذہنی حساب میں تیزی اور درستی"),
        (
            "word_problems",
            "Step-by-step solutions of word problems",
            "عبارتی سوالات کو مرحلہ وار حل کرنا",
        ),
        (
            "neat_working",
            "Neat, orderly working in the notebook",
            "کاپی پر صاف ستھرا اور ترتیب وار کام",
        ),
        ("algebra", "Good grasp of algebraic expressions", "الجبری عبارات کی اچھی سمجھ"),
        (
            "geometry",
            "Accurate figures and practical geometry",
            "اشکال کی درست بناوٹ اور عملی جیومیٹری",
        ),
    ),
    "GSCI": (
        ("curiosity", "Curiosity and good questions in class", "تجسس اور کلاس میں اچھے سوالات"),
        (
            "practical_care",
            "Careful, tidy work in practical activities",
            "عملی سرگرمیوں میں احتیاط اور صفائی سے کام",
        ),
        ("diagrams", "Clear, labelled diagrams", "صاف ستھری اور لیبل لگی اشکال"),
        ("everyday_life", "Relating science to everyday life", "سائنس کو روزمرہ زندگی سے جوڑنا"),
        ("concepts", "Good understanding of key concepts", "بنیادی تصورات کی اچھی سمجھ"),
    ),
    "PHY": (
        ("units", "Correct use of units and symbols", "اکائیوں اور علامات کا درست استعمال"),
        (
            "numericals",
            "Accurate solutions of numerical problems",
            "عددی سوالات (نیومیریکلز) کا درست حل",
        ),
        ("readings", "Accurate measurements in practicals", "پریکٹیکل میں درست پیمائش اور ریڈنگ"),
        ("laws", "Good understanding of laws and definitions", "قوانین اور تعریفوں کی اچھی سمجھ"),
        ("graphs", "Skill in drawing and reading graphs", "گراف بنانے اور پڑھنے میں مہارت"),
    ),
    "CHEM": (
        ("equations", "Balanced chemical equations", "متوازن کیمیائی مساوات لکھنا"),
        ("symbols", "Command of symbols and valencies", "علامات اور گرفت (ویلنسی) پر عبور"),
        (
            "lab_safety",
            "Safe handling of chemicals in the laboratory",
            "لیبارٹری میں کیمیکلز کا محفوظ استعمال",
        ),
        ("periodic_table", "Good understanding of the periodic table", "دوری جدول کی اچھی سمجھ"),
        ("mole", "Accurate mole and mass calculations", "مول اور کمیت کے حسابات میں درستی"),
    ),
    "BIO": (
        ("diagrams", "Neat, correctly labelled diagrams", "صاف اور درست لیبل شدہ حیاتیاتی اشکال"),
        ("terms", "Correct use of biological terms", "حیاتیاتی اصطلاحات کا درست استعمال"),
        ("body_systems", "Good understanding of body systems", "جسمانی نظاموں کی اچھی سمجھ"),
        (
            "microscope",
            "Careful observation with the microscope",
            "خوردبین سے احتیاط کے ساتھ مشاہدہ",
        ),
        (
            "life_processes",
            "Explaining life processes in own words",
            "حیاتیاتی عوامل کو اپنے الفاظ میں بیان کرنا",
        ),
    ),
    "ISL": (
        (
            "recitation",
            "Correct recitation of the Holy Quran with tajweed",
            "قرآن مجید کی تجوید کے ساتھ درست تلاوت",
        ),
        (
            "memorisation",
            "Prescribed surahs and duas learnt by heart",
            "مقررہ سورتوں اور دعاؤں کا حفظ",
        ),
        (
            "translation",
            "Good understanding of translation and meaning",
            "ترجمہ اور مفہوم کی اچھی سمجھ",
        ),
        ("seerah", "Good knowledge of the Seerah", "سیرتِ طیبہ ﷺ سے اچھی واقفیت"),
        ("conduct", "Good conduct in line with the lessons", "اسباق کے مطابق اچھا اخلاق اور رویہ"),
    ),
    "PAKST": (
        ("movement", "Good knowledge of the Pakistan Movement", "تحریکِ پاکستان سے اچھی واقفیت"),
        ("maps", "Skill in reading and drawing maps", "نقشہ پڑھنے اور بنانے میں مہارت"),
        (
            "dates",
            "Accurate recall of key dates and events",
            "اہم تاریخوں اور واقعات کی درست یادداشت",
        ),
        ("long_answers", "Well-organised long answers", "طویل جوابات کی اچھی ترتیب"),
        ("current_affairs", "Awareness of current affairs", "حالاتِ حاضرہ سے آگاہی"),
    ),
    "CS": (
        ("logic", "Logical thinking in problem solving", "مسائل کے حل میں منطقی سوچ"),
        ("programs", "Correct, working programs", "درست اور چلنے والے پروگرام لکھنا"),
        (
            "typing",
            "Skill in typing and using the computer",
            "کمپیوٹر کے استعمال اور ٹائپنگ میں مہارت",
        ),
        ("flowcharts", "Clear flowcharts and algorithms", "واضح فلو چارٹ اور الگورتھم بنانا"),
        ("lab_care", "Careful handling of lab equipment", "کمپیوٹر لیب کے آلات کا محتاط استعمال"),
    ),
}

STARTER_WEAKNESSES: dict[str, tuple[tuple[str, str, str], ...]] = {
    "URDU": (
        ("imla", "Spelling (imla) mistakes", "املا کی غلطیاں"),
        (
            "similar_letters",
            "Confusion between similar letters and dots",
            "ملتے جلتے حروف اور نقطوں میں الجھن",
        ),
        ("grammar", "Weak grammar (qawaid)", "قواعد (گرامر) میں کمزوری"),
        ("hesitant_reading", "Hesitant, halting reading aloud", "بلند خوانی میں جھجک اور اٹکنا"),
        ("short_answers", "Short, undeveloped written answers", "تحریری جوابات مختصر اور نامکمل"),
    ),
    "ENG": (
        ("tenses", "Mistakes in the use of tenses", "زمانوں (ٹینس) کے استعمال میں غلطیاں"),
        ("spelling", "Frequent spelling mistakes", "ہجوں کی اکثر غلطیاں"),
        ("rote", "Answers learnt by rote without understanding", "سمجھے بغیر جوابات رٹنا"),
        ("speaking", "Hesitation in speaking English", "انگریزی بولنے میں جھجک"),
        (
            "composition",
            "Difficulty writing a paragraph or letter independently",
            "خود سے پیراگراف یا خط لکھنے میں دشواری",
        ),
    ),
    "MATH": (
        (
            "signs",
            "Errors with signs and basic operations",
            "مثبت و منفی علامات اور بنیادی عوامل میں غلطیاں",
        ),
        ("tables", "Multiplication tables not yet secure", "پہاڑے ابھی پکے نہیں"),
        (
            "equations",
            "Difficulty turning word problems into equations",
            "عبارتی سوالات کو مساوات میں ڈھالنے میں دشواری",
        ),
        ("skipped_steps", "Steps of the solution skipped", "حل کے مراحل چھوڑ دینا"),
        ("fractions", "Weak with fractions and decimals", "کسور اور اعشاریہ میں کمزوری"),
    ),
    "GSCI": (
        ("terms", "Confusion of scientific terms", "سائنسی اصطلاحات میں الجھن"),
        ("rote", "Memorising without understanding", "سمجھے بغیر رٹا لگانا"),
        ("diagrams", "Incomplete or unlabelled diagrams", "اشکال نامکمل یا بغیر لیبل کے"),
        (
            "observations",
            "Observations not recorded during activities",
            "سرگرمیوں کے دوران مشاہدات درج نہ کرنا",
        ),
        (
            "own_words",
            "Difficulty explaining answers in own words",
            "جوابات اپنے الفاظ میں بیان کرنے میں دشواری",
        ),
    ),
    "PHY": (
        ("units", "Units missing or wrong in answers", "جوابات میں اکائیاں غائب یا غلط"),
        (
            "formulas",
            "Difficulty rearranging formulas",
            "فارمولے کو ترتیب دے کر مطلوبہ مقدار نکالنے میں دشواری",
        ),
        (
            "quantities",
            "Confusion of related quantities, such as mass and weight",
            "ملتی جلتی مقداروں میں الجھن، مثلاً کمیت اور وزن",
        ),
        ("graphs", "Weak in drawing and reading graphs", "گراف بنانے اور پڑھنے میں کمزوری"),
        ("readings", "Careless readings in practicals", "پریکٹیکل میں بے احتیاطی سے ریڈنگ لینا"),
    ),
    "CHEM": (
        ("equations", "Unbalanced or incomplete equations", "غیر متوازن یا نامکمل مساوات"),
        ("formulae", "Formulae of compounds not learnt", "مرکبات کے فارمولے یاد نہ ہونا"),
        ("mole", "Difficulty with mole calculations", "مول کے حسابات میں دشواری"),
        (
            "changes",
            "Confusion between physical and chemical changes",
            "طبعی اور کیمیائی تبدیلیوں میں الجھن",
        ),
        (
            "lab_safety",
            "Careless practical work and safety rules ignored",
            "پریکٹیکل میں بے احتیاطی اور حفاظتی اصولوں کو نظر انداز کرنا",
        ),
    ),
    "BIO": (
        ("diagrams", "Incomplete or wrongly labelled diagrams", "اشکال نامکمل یا غلط لیبل شدہ"),
        (
            "spelling",
            "Misspelt scientific names and terms",
            "سائنسی ناموں اور اصطلاحات کے ہجوں میں غلطیاں",
        ),
        (
            "processes",
            "Confusion of similar processes, such as respiration and breathing",
            "ملتے جلتے عوامل میں الجھن، مثلاً تنفس اور سانس لینا",
        ),
        ("rote", "Definitions learnt by rote without understanding", "تعریفوں کو سمجھے بغیر رٹنا"),
        ("classification", "Weak in classifying living things", "جانداروں کی درجہ بندی میں کمزوری"),
    ),
    "ISL": (
        (
            "recitation",
            "Mistakes in recitation and pronunciation of letters",
            "تلاوت اور مخارج کی ادائیگی میں غلطیاں",
        ),
        (
            "memorisation",
            "Prescribed surahs or duas not learnt",
            "مقررہ سورتیں یا دعائیں یاد نہ ہونا",
        ),
        (
            "meaning",
            "Difficulty explaining the meaning of verses and ahadith",
            "آیات و احادیث کا مفہوم بیان کرنے میں دشواری",
        ),
        ("short_answers", "Short, incomplete written answers", "تحریری جوابات مختصر اور نامکمل"),
        ("references", "References missing in answers", "جوابات میں حوالہ جات کی کمی"),
    ),
    "PAKST": (
        ("dates", "Dates and events mixed up", "تاریخوں اور واقعات میں گڑبڑ"),
        ("maps", "Weak map work", "نقشے کے کام میں کمزوری"),
        ("structure", "Answers without headings or order", "جوابات میں سرخیوں اور ترتیب کی کمی"),
        ("rote", "Answers learnt by rote without understanding", "سمجھے بغیر جوابات رٹنا"),
        (
            "geography",
            "Little knowledge of Pakistan's geography and resources",
            "پاکستان کے جغرافیہ اور وسائل سے کم واقفیت",
        ),
    ),
    "CS": (
        ("syntax", "Syntax errors in programs", "پروگراموں میں سنٹیکس کی غلطیاں"),
        ("loops", "Difficulty with loops and conditions", "لوپس اور شرائط (کنڈیشنز) میں دشواری"),
        ("practice", "Too little hands-on practice on the computer", "کمپیوٹر پر عملی مشق کی کمی"),
        (
            "terms",
            "Confusion of hardware and software terms",
            "ہارڈ ویئر اور سافٹ ویئر کی اصطلاحات میں الجھن",
        ),
        ("flowcharts", "Incomplete flowcharts and algorithms", "نامکمل فلو چارٹ اور الگورتھم"),
    ),
}
