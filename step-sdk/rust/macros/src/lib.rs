//! `#[step]`: turns an `impl` block of kernel functions into a Weft step component.
//! See the `weft-step-sdk` crate for the rules and an example.

use proc_macro::TokenStream;
use proc_macro2::TokenStream as Tokens;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{FnArg, ImplItem, ImplItemFn, ItemImpl, LitInt, LitStr, Pat, ReturnType, Type, parse_macro_input};

/// Mark an `impl` block of a state type as a step; mark each kernel function in it `#[kernel_function]`
/// (optionally `#[kernel_function(name = "other")]`). Options: `#[step(state_version = 2)]` (default 1),
/// `events = ["Approved", "Rejected"]` (the events the step declares it emits, which `weft describe`
/// lists and `weft validate` checks edges against), and `migrate = Self::upgrade`, a function `fn(from_version: u32, old: serde_json::Value) ->
/// Result<serde_json::Value, weft_step_sdk::Error>` that turns an older snapshot into this version's.
#[proc_macro_attribute]
pub fn step(attr: TokenStream, item: TokenStream) -> TokenStream {
    let mut block = parse_macro_input!(item as ItemImpl);
    let mut state_version = 1u32;
    let mut migrate: Option<syn::ExprPath> = None;
    let mut events: Vec<LitStr> = Vec::new();
    let options = syn::meta::parser(|meta| {
        if meta.path.is_ident("state_version") {
            state_version = meta.value()?.parse::<LitInt>()?.base10_parse()?;
            Ok(())
        } else if meta.path.is_ident("migrate") {
            migrate = Some(meta.value()?.parse()?);
            Ok(())
        } else if meta.path.is_ident("events") {
            let list: syn::ExprArray = meta.value()?.parse()?;
            for element in list.elems {
                match element {
                    syn::Expr::Lit(syn::ExprLit { lit: syn::Lit::Str(name), .. }) => events.push(name),
                    other => {
                        return Err(syn::Error::new(other.span(), "an event is a string literal, e.g. \"Approved\""));
                    }
                }
            }
            Ok(())
        } else {
            Err(meta.error(
                "unknown option; #[step] accepts `state_version = N`, `events = [\"E\", ...]` and `migrate = path`",
            ))
        }
    });
    parse_macro_input!(attr with options);
    match expand(&mut block, state_version, &events, migrate.as_ref()) {
        Ok(tokens) => tokens.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

struct Function {
    name: String,
    description: Option<String>,
    params: Vec<Param>,
    call: Tokens,
}

struct Param {
    name: String,
    required: bool,
    schema: Option<String>,
}

fn expand(
    block: &mut ItemImpl,
    state_version: u32,
    events: &[LitStr],
    migrate: Option<&syn::ExprPath>,
) -> syn::Result<Tokens> {
    let mut functions = Vec::new();
    for item in &mut block.items {
        if let ImplItem::Fn(method) = item
            && let Some(name) = take_kernel_attr(method)?
        {
            functions.push(function(method, name)?);
        }
    }
    if functions.is_empty() {
        return Err(syn::Error::new(block.span(), "a step needs at least one #[kernel_function]"));
    }
    let ty = &block.self_ty;
    let sdk = quote!(::weft_step_sdk);
    let infos = functions.iter().map(|f| {
        let name = &f.name;
        let description = option(&f.description);
        let params = f.params.iter().map(|p| {
            let (n, r, s) = (&p.name, p.required, option(&p.schema));
            quote!((#n, #r, #s))
        });
        quote!((#name, #description, ::std::vec![#(#params),*]))
    });
    let arms = functions.iter().map(|f| {
        let (name, call) = (&f.name, &f.call);
        quote!(#name => { #call })
    });
    let migrate = migrate.map(|path| {
        quote! {
            fn migrate(
                from: u32,
                state: #sdk::serde_json::Value,
            ) -> ::core::result::Result<#sdk::serde_json::Value, #sdk::glue::StepError> {
                #path(from, state).map_err(|e| #sdk::glue::StepError::BadState(e.to_string()))
            }
        }
    });
    Ok(quote! {
        #block

        impl #sdk::Step for #ty {
            const STATE_VERSION: u32 = #state_version;

            #migrate

            fn events() -> &'static [&'static str] {
                &[#(#events),*]
            }

            fn functions() -> ::std::vec::Vec<#sdk::glue::FunctionSpec> {
                ::std::vec![#(#infos),*]
            }

            fn call(
                &mut self,
                ctx: &#sdk::Context,
                function: &str,
                args: &#sdk::glue::Args,
            ) -> ::core::result::Result<::core::option::Option<::std::string::String>, #sdk::glue::StepError> {
                let _ = ctx;
                match function {
                    #(#arms)*
                    other => ::core::result::Result::Err(#sdk::glue::StepError::UnknownFunction(other.into())),
                }
            }
        }

        #sdk::__export_step!(#ty);
    })
}

fn option(value: &Option<String>) -> Tokens {
    match value {
        Some(v) => quote!(::core::option::Option::Some(#v)),
        None => quote!(::core::option::Option::None),
    }
}

/// Remove `#[kernel_function]` from `method`; the function's name if it was there.
fn take_kernel_attr(method: &mut ImplItemFn) -> syn::Result<Option<String>> {
    let Some(index) = method.attrs.iter().position(|a| a.path().is_ident("kernel_function")) else {
        return Ok(None);
    };
    let attr = method.attrs.remove(index);
    let mut name = method.sig.ident.to_string();
    if !matches!(attr.meta, syn::Meta::Path(_)) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("name") {
                name = meta.value()?.parse::<LitStr>()?.value();
                Ok(())
            } else {
                Err(meta.error("unknown option; #[kernel_function] accepts `name = \"...\"`"))
            }
        })?;
    }
    Ok(Some(name))
}

fn function(method: &ImplItemFn, name: String) -> syn::Result<Function> {
    let ident = &method.sig.ident;
    let mut params = Vec::new();
    let mut decode = Vec::new();
    let mut call_args = Vec::new();
    for input in &method.sig.inputs {
        match input {
            FnArg::Receiver(_) => call_args.push(quote!(self)),
            FnArg::Typed(pt) => {
                if is_context(&pt.ty) {
                    call_args.push(quote!(ctx));
                    continue;
                }
                let Pat::Ident(pat) = &*pt.pat else {
                    return Err(syn::Error::new(pt.pat.span(), "kernel-function parameters must be plain names"));
                };
                if let Type::Reference(_) = &*pt.ty {
                    return Err(syn::Error::new(
                        pt.ty.span(),
                        "kernel-function parameters must be owned (String, not &str); only &Context may be a reference",
                    ));
                }
                let pname = pat.ident.to_string().trim_start_matches("r#").to_string();
                let (required, schema) = (outer(&pt.ty) != Some("Option"), schema(&pt.ty));
                let (var, ty) = (&pat.ident, &pt.ty);
                decode.push(quote_spanned!(pt.span()=> let #var: #ty = args.get(#pname, #required)?;));
                call_args.push(quote!(#var));
                params.push(Param { name: pname, required, schema });
            }
        }
    }
    let returns_result = matches!(&method.sig.output, ReturnType::Type(_, ty) if outer(ty) == Some("Result"));
    let finish = if returns_result {
        quote!(match value {
            ::core::result::Result::Ok(v) => ::weft_step_sdk::glue::result(&v),
            ::core::result::Result::Err(e) => ::core::result::Result::Err(::weft_step_sdk::glue::failed(e)),
        })
    } else {
        quote!(::weft_step_sdk::glue::result(&value))
    };
    let call = quote! {
        #(#decode)*
        #[allow(clippy::let_unit_value)]
        let value = Self::#ident(#(#call_args),*);
        #finish
    };
    Ok(Function { name, description: doc_line(&method.attrs), params, call })
}

fn is_context(ty: &Type) -> bool {
    matches!(ty, Type::Reference(r) if outer(&r.elem) == Some("Context"))
}

/// The last path segment of a type, e.g. `Option` for `std::option::Option<u32>`.
fn outer(ty: &Type) -> Option<&'static str> {
    let Type::Path(p) = ty else { return None };
    let last = p.path.segments.last()?.ident.to_string();
    [
        "Option", "Result", "Context", "String", "str", "char", "bool", "f32", "f64", "Vec", "VecDeque", "HashSet",
        "BTreeSet",
    ]
    .into_iter()
    .chain(["i8", "i16", "i32", "i64", "i128", "isize", "u8", "u16", "u32", "u64", "u128", "usize"])
    .find(|k| *k == last)
}

/// The JSON Schema of a plain type; `None` for any other type.
fn schema(ty: &Type) -> Option<String> {
    let kind = match outer(ty)? {
        "Option" => return schema(first_generic(ty)?),
        "String" | "str" | "char" => "string",
        "bool" => "boolean",
        "f32" | "f64" => "number",
        "Vec" | "VecDeque" | "HashSet" | "BTreeSet" => "array",
        "Result" | "Context" => return None,
        _ => "integer",
    };
    Some(format!("{{\"type\":\"{kind}\"}}"))
}

fn first_generic(ty: &Type) -> Option<&Type> {
    let Type::Path(p) = ty else { return None };
    match &p.path.segments.last()?.arguments {
        syn::PathArguments::AngleBracketed(a) => a.args.iter().find_map(|g| match g {
            syn::GenericArgument::Type(t) => Some(t),
            _ => None,
        }),
        _ => None,
    }
}

/// The first non-empty line of the doc comment.
fn doc_line(attrs: &[syn::Attribute]) -> Option<String> {
    attrs.iter().filter(|a| a.path().is_ident("doc")).find_map(|a| match &a.meta {
        syn::Meta::NameValue(nv) => match &nv.value {
            syn::Expr::Lit(syn::ExprLit { lit: syn::Lit::Str(s), .. }) => {
                let line = s.value().trim().to_string();
                (!line.is_empty()).then_some(line)
            }
            _ => None,
        },
        _ => None,
    })
}
